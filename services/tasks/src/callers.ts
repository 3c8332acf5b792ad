// The callers file (docs/api.md § Authentication): who may call the service, with which access, by the SHA-256 digests
// of their keys. The service never holds a key. Every problem names the caller and the rule, never a digest.
import crypto from 'node:crypto';

/** A key: `msk_` and 43 base64url characters (32 random bytes, unpadded). */
export const KEY_PATTERN = /^msk_[A-Za-z0-9_-]{43}$/;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
const CALLER_ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
const ACCESSES = ['read', 'write'] as const;
const KEYS_MAX = 2;

export type Access = (typeof ACCESSES)[number];

export interface Caller {
  id: string;
  access: Access;
}

const FORMAT = '{"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}';

export class CallersError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'CallersError';
  }
}

/** The SHA-256 of a key's ASCII bytes: what the callers file stores. */
export function digestOf(key: string): Buffer {
  return crypto.createHash('sha256').update(key, 'ascii').digest();
}

/** A stored digest, with its caller. */
interface Entry {
  digest: Buffer;
  caller: Caller;
}

/** The callers a service knows, each stored digest with its caller. */
export class Callers {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** Reads a callers file's JSON text; throws a CallersError listing every problem. */
  static parse(text: string): Callers {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      // The parser's message quotes the text, which holds digests.
      throw new CallersError([`is not valid JSON: it must be ${FORMAT}`]);
    }
    const callers = isObject(document) && Object.keys(document).length === 1 ? document.callers : undefined;
    if (!isObject(callers)) throw new CallersError([`must be ${FORMAT}, with no other field`]);
    const problems: string[] = [];
    const owners = new Map<string, string>();
    const entries: Entry[] = [];
    const ids = Object.keys(callers);
    if (ids.length === 0) problems.push('names no caller: a service needs at least one');
    ids.forEach((id, index) => {
      const checked = checkCaller(id, index, callers[id], owners);
      problems.push(...checked.problems);
      entries.push(...checked.entries);
    });
    if (problems.length > 0) throw new CallersError(problems);
    return new Callers(entries);
  }

  /**
   * The caller whose key this is, or undefined. Compares the key's digest with every stored digest in constant time,
   * never stopping at a match, so the time taken says nothing about which digest, or how much of one, matched.
   */
  find(key: string): Caller | undefined {
    const digest = digestOf(key);
    let found: Caller | undefined;
    for (const entry of this.entries) {
      // Called through the module object, so that a test can see which comparison runs.
      if (crypto.timingSafeEqual(digest, entry.digest)) found = entry.caller;
    }
    return found;
  }
}

interface CheckedCaller {
  /** The caller's digests, or none when it has a problem. */
  entries: Entry[];
  problems: string[];
}

const refused = (...problems: string[]): CheckedCaller => ({ entries: [], problems });

/** One caller's entry; `owners` maps each digest seen so far to its caller, across the file. */
function checkCaller(id: string, index: number, entry: unknown, owners: Map<string, string>): CheckedCaller {
  // An id that breaks the rule is named by its place: it could hold anything, a digest included.
  if (!CALLER_ID_PATTERN.test(id)) {
    return refused(`caller number ${index + 1}: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter`);
  }
  const about = `caller ${id}:`;
  if (!isObject(entry) || Object.keys(entry).some((field) => field !== 'access' && field !== 'keys')) {
    return refused(`${about} must be {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}, with no other field`);
  }
  const access = ACCESSES.find((allowed) => allowed === entry.access);
  const problems = access ? [] : [`${about} access must be "read" or "write"`];
  const keys = entry.keys;
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > KEYS_MAX) {
    return refused(...problems, `${about} keys must list 1 or 2 digests (2 only while a key is rotated)`);
  }
  const digests: string[] = [];
  keys.forEach((digest: unknown, at) => {
    const key = `${about} keys[${at}]`;
    if (typeof digest === 'string' && KEY_PATTERN.test(digest)) {
      problems.push(`${key} is a key, not its digest: store the SHA-256 of the key, never the key`);
    } else if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
      problems.push(`${key} must be a SHA-256 digest: 64 lowercase hexadecimal characters`);
    } else if (owners.get(digest) === id) {
      problems.push(`${key} repeats a digest of the same caller`);
    } else if (owners.has(digest)) {
      problems.push(`${key} is also a digest of caller ${owners.get(digest) ?? ''}: a digest may belong to one caller only`);
    } else {
      owners.set(digest, id);
      digests.push(digest);
    }
  });
  if (access === undefined || problems.length > 0) return refused(...problems);
  const caller: Caller = { id, access };
  return { entries: digests.map((digest) => ({ digest: Buffer.from(digest, 'hex'), caller })), problems: [] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
