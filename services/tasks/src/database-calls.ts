// How a request uses the database: within one deadline for the whole request, writes of one document one at a time,
// and 503s that say whether the change may have been made (docs/api.md § 503s, docs/tasks.md § Waiting on the
// database).
import type { Connection } from 'mongoose';
import { DATABASE_TIMEOUTS, isConnected, isDatabaseUnavailable } from './db.js';
import { databaseUnavailable, outcomeUnknown } from './errors.js';
import { Turns } from './turns.js';

/** The request's time for the database ran out. */
class DeadlinePassed extends Error {
  constructor() {
    super(`no answer from the database within ${DATABASE_TIMEOUTS.requestMs} ms`);
  }
}

export class DatabaseCalls {
  // FerretDB applies an update as a read and then a write of the whole document, without a lock, so two updates of one
  // document at once can lose one; MongoDB applies each atomically. The service sends at most one write per document
  // at a time (per process), which makes both hold.
  private readonly turns = new Turns();

  constructor(private readonly connection: Connection) {}

  /** The calls of one request, all within DATABASE_TIMEOUTS.requestMs from now. A 503 at once while the driver knows the database is down. */
  begin(): RequestCalls {
    if (!isConnected(this.connection)) throw databaseUnavailable();
    return new RequestCalls(this.turns, performance.now() + DATABASE_TIMEOUTS.requestMs);
  }
}

export class RequestCalls {
  constructor(
    private readonly turns: Turns,
    private readonly deadline: number,
  ) {}

  /** A query that changes nothing: when the database fails or is too slow, a 503 that says nothing changed. */
  async read<T>(query: () => PromiseLike<T>): Promise<T> {
    try {
      return await this.beforeDeadline(Promise.resolve(query()));
    } catch (error) {
      if (error instanceof DeadlinePassed || isDatabaseUnavailable(error)) throw databaseUnavailable(error);
      throw error;
    }
  }

  /**
   * A change: when the database fails or is too slow once it was sent, a 503 that says the outcome is unknown (the
   * driver may still deliver it, and it may have been applied). With `document`, it waits for the writes of that
   * document asked for before it; if its turn does not come in time it is never sent, and the 503 says nothing changed.
   */
  async write<T>(change: () => PromiseLike<T>, document?: string): Promise<T> {
    const state = { sent: false, abandoned: false };
    const send = (): Promise<T> => {
      if (state.abandoned) return Promise.reject(new DeadlinePassed());
      state.sent = true;
      return Promise.resolve(change());
    };
    const result = document === undefined ? send() : this.turns.run(document, send);
    try {
      return await this.beforeDeadline(result, () => {
        state.abandoned = !state.sent;
      });
    } catch (error) {
      if (!(error instanceof DeadlinePassed || isDatabaseUnavailable(error))) throw error;
      throw state.sent ? outcomeUnknown(error) : databaseUnavailable(error);
    }
  }

  /** `operation`, or a DeadlinePassed once the deadline comes first (after `onExpiry`); `operation` then goes on alone. */
  private async beforeDeadline<T>(operation: Promise<T>, onExpiry?: () => void): Promise<T> {
    // Settling after the answer was sent, its failure is nobody's business (and must not be an unhandled rejection).
    operation.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        onExpiry?.();
        reject(new DeadlinePassed());
      }, Math.max(0, this.deadline - performance.now()));
    });
    try {
      return await Promise.race([operation, expiry]);
    } finally {
      clearTimeout(timer);
    }
  }
}
