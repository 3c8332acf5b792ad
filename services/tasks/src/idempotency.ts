// Idempotency-Key on POST (draft-ietf-httpapi-idempotency-key-header; docs/api.md § Idempotency-Key): the first
// request with a key stores its answer with the key before it changes anything; a retry with the same key and request
// gets that answer again and changes nothing more.
//
// FerretDB has no multi-document transactions (it ignores startTransaction), so the key's record is the one atomic
// step: it holds the answer, and so the new resource's id, before the resource is written. Writing it is idempotent
// (an insert with that id), so a retry may finish a first request that stopped half way, and at most one resource
// exists however often a key is tried.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Schema, type Connection, type Model } from 'mongoose';
import type { Response } from 'express';
import type { RequestCalls } from './database-calls.js';
import { isDuplicateKey } from './db.js';
import { HttpError } from './errors.js';
import { headerLines } from './http-protocol.js';

/** A key is forgotten this long after its first use. */
export const KEY_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** How long the first request holds its key: until then a retry gets 409; after, it finishes the first one's work. */
export const KEY_LEASE_MS = 10_000;
/** Expired keys are deleted at most this often, at most SWEEP_MAX at a time. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_MAX = 1000;

const HEADER = 'Idempotency-Key';
// 1 to 255 visible ASCII characters; bare (not starting with a quote), or as a quoted sf-string with \" and \\ escapes.
const BARE_KEY = /^[!#-~][!-~]{0,254}$/;
const QUOTED_KEY = /^"((?:[!#-[\]-~]|\\["\\])+)"$/;
const KEY_RULE = 'must be 1 to 255 visible ASCII characters, bare or as a quoted string ("…")';

/** An answer as stored with its key, and sent again to a retry. */
export interface StoredAnswer {
  status: number;
  /** The JSON body, as sent. */
  body: string;
  location?: string;
}

interface KeyRecord {
  _id: string;
  fingerprint: string;
  answer: StoredAnswer;
  /** Whether what the answer says was done is done (an answer that is not 2xx did nothing). */
  applied: boolean;
  leaseUntil: Date;
  expiresAt: Date;
}

const keySchema = new Schema<KeyRecord>(
  {
    _id: { type: String, required: true },
    fingerprint: { type: String, required: true },
    answer: { status: { type: Number, required: true }, body: { type: String, required: true }, location: String },
    applied: { type: Boolean, required: true },
    leaseUntil: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'idempotency_keys' },
);
keySchema.index({ expiresAt: 1 });

/** `error` as an answer to store. */
export function errorAnswer(error: HttpError): StoredAnswer {
  return { status: error.status, body: JSON.stringify(error.toBody()) };
}

/** Sends `answer`; a stored one sent again says so with `Idempotent-Replayed: true`. */
export function sendAnswer(res: Response, answer: StoredAnswer, replayed: boolean): void {
  if (answer.location !== undefined) res.location(answer.location);
  if (replayed) res.set('Idempotent-Replayed', 'true');
  res.status(answer.status).type('application/json').send(answer.body);
}

/** The request's key, or undefined when it has none; a 400 naming Idempotency-Key when it is malformed. */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const values = headerLines(req, HEADER);
  if (values.length === 0) return undefined;
  const [value = ''] = values;
  if (values.length > 1) throw badKey('must be given once');
  if (BARE_KEY.test(value)) return value;
  const quoted = QUOTED_KEY.exec(value)?.[1]?.replace(/\\(.)/g, '$1');
  if (quoted === undefined || quoted.length > 255) throw badKey(KEY_RULE);
  return quoted;
}

/** What a request asks, for telling a retry from another request with the same key: method, path, body. */
export function fingerprintOf(method: string, path: string, body: Buffer): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return createHash('sha256').update(`${method} ${path} ${bodyHash}`).digest('hex');
}

type Claim = { kind: 'new' } | { kind: 'stored'; answer: StoredAnswer } | { kind: 'unfinished'; answer: StoredAnswer };

export class IdempotencyKeys {
  private readonly Keys: Model<KeyRecord>;
  private lastSweep = -Infinity;

  /**
   * `apply` does what a 2xx answer says was done; it must be idempotent, as a retry may call it again for an answer
   * whose first request stopped before it finished.
   */
  constructor(
    connection: Connection,
    private readonly clock: () => Date,
    private readonly apply: (answer: StoredAnswer) => Promise<void>,
  ) {
    this.Keys = (connection.models.IdempotencyKey as Model<KeyRecord> | undefined) ?? connection.model<KeyRecord>('IdempotencyKey', keySchema);
  }

  /**
   * The answer to send to a request with `key`: `answer`, its own, stored with the key and then applied; or, to a retry
   * of the same request, the stored answer. A 422 when the key came with another request, a 409 while its first
   * request is still at work.
   */
  async answer(calls: RequestCalls, key: string, fingerprint: string, answer: StoredAnswer): Promise<{ answer: StoredAnswer; replayed: boolean }> {
    const now = this.clock();
    const claim = await calls.write(() => this.claim(key, fingerprint, answer, now), turnOf(key));
    if (claim.kind === 'stored') return { answer: claim.answer, replayed: true };
    const mine = claim.kind === 'new' ? answer : claim.answer;
    if (mine.status < 300) {
      await calls.write(() => this.apply(mine));
      await calls.write(() => this.Keys.updateOne({ _id: key }, { $set: { applied: true } }));
    }
    if (now.getTime() - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = now.getTime();
      void this.sweep(calls, now).catch(() => undefined);
    }
    return { answer: mine, replayed: claim.kind === 'unfinished' };
  }

  /** Takes `key` for this request, or says what its earlier use left. Runs in the key's turn (one at a time). */
  private async claim(key: string, fingerprint: string, answer: StoredAnswer, now: Date): Promise<Claim> {
    const later = (ms: number): Date => new Date(now.getTime() + ms);
    // Twice at most: a key found expired is deleted, then claimed again.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.Keys.create({ _id: key, fingerprint, answer, applied: answer.status >= 300, leaseUntil: later(KEY_LEASE_MS), expiresAt: later(KEY_LIFETIME_MS) });
        return { kind: 'new' };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const record = await this.Keys.findById(key).lean();
      if (record === null) continue;
      if (record.expiresAt <= now) {
        await this.Keys.deleteOne({ _id: key, expiresAt: record.expiresAt });
        continue;
      }
      if (record.fingerprint !== fingerprint) {
        throw new HttpError(422, 'idempotency key reused', [
          { field: HEADER, message: 'this key was first used with another request (method, path or body); use a new key' },
        ]);
      }
      if (record.applied) return { kind: 'stored', answer: record.answer };
      if (record.leaseUntil > now) break;
      // The first request stopped before it finished: this one finishes its work, and holds the key meanwhile.
      const { modifiedCount } = await this.Keys.updateOne({ _id: key, leaseUntil: record.leaseUntil }, { $set: { leaseUntil: later(KEY_LEASE_MS) } });
      if (modifiedCount === 1) return { kind: 'unfinished', answer: record.answer };
      break;
    }
    throw new HttpError(409, 'idempotency key in use', [
      { field: HEADER, message: 'a request with this key is still being processed; retry later' },
    ]);
  }

  /** Deletes keys past their lifetime, each in its turn, as long as the request's time lasts. */
  private async sweep(calls: RequestCalls, now: Date): Promise<void> {
    const expired = await calls.read(() => this.Keys.find({ expiresAt: { $lte: now } }, { expiresAt: 1 }).limit(SWEEP_MAX).lean());
    for (const { _id, expiresAt } of expired) {
      await calls.write(() => this.Keys.deleteOne({ _id, expiresAt }), turnOf(_id));
    }
  }
}

function turnOf(key: string): string {
  return `idempotency-key:${key}`;
}

function badKey(message: string): HttpError {
  return new HttpError(400, 'invalid header', [{ field: HEADER, message }]);
}
