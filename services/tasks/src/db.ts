// The MongoDB connection: opened in the background, retried until it succeeds, never queuing queries while down, and
// never waiting on the database for longer than DATABASE_TIMEOUTS say.
import mongoose, { type Connection, type ConnectOptions } from 'mongoose';
import type winston from 'winston';

const RETRY_DELAY_MS = 2000;

/**
 * How long the service waits on the database, set on purpose (docs/tasks.md § Waiting on the database). Each request
 * answers within `requestMs` whatever the driver does; the driver's own timeouts free its connections soon after.
 */
export const DATABASE_TIMEOUTS = {
  /** A new connection's TCP (and TLS) handshake and first hello; also how long a heartbeat waits for its answer. */
  connectMs: 2000,
  /** How long an operation waits for a server it can use. */
  serverSelectionMs: 2000,
  /** How long an operation waits for a free connection from the pool. */
  checkoutMs: 2000,
  /** How long a connection waits for the answer to a command it sent; then the driver closes it. */
  socketMs: 2500,
  /** maxTimeMS, the statement timeout: how long the server itself may run a query before it aborts it. */
  statementMs: 2000,
  /** How often the driver checks the server (its minimum): an outage and a recovery are noticed within this. */
  heartbeatMs: 500,
  /** The most one request waits on the database in all (src/database-calls.ts); then it answers 503. */
  requestMs: 2500,
} as const;

export const connectOptions: ConnectOptions = {
  // Without this, mongoose queues queries while disconnected and a request would hang instead of getting a 503.
  bufferCommands: false,
  connectTimeoutMS: DATABASE_TIMEOUTS.connectMs,
  serverSelectionTimeoutMS: DATABASE_TIMEOUTS.serverSelectionMs,
  waitQueueTimeoutMS: DATABASE_TIMEOUTS.checkoutMs,
  socketTimeoutMS: DATABASE_TIMEOUTS.socketMs,
  heartbeatFrequencyMS: DATABASE_TIMEOUTS.heartbeatMs,
};

export interface Database {
  connection: Connection;
  /** Resolves once the first connection succeeds (or the database is closed before that). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a connection to `uri` and keeps retrying the first connect while the server is unreachable.
 * After that the driver reconnects by itself. `overrides` adds driver options (tests pick a database name with it).
 */
export function openDatabase(uri: string, logger: winston.Logger, overrides: ConnectOptions = {}): Database {
  const connection = mongoose.createConnection();
  // mongoose adds it to every find and count; the updates pass it themselves (tasks-router.ts).
  connection.set('maxTimeMS', DATABASE_TIMEOUTS.statementMs);
  const where = describeMongoUri(uri);
  const reasonOf = (error: unknown): string => redactPassword(errorMessage(error), uri);
  let closed = false;
  // A function, not the variable itself, because it changes while the loop below awaits.
  const isClosed = (): boolean => closed;

  // An 'error' event without a listener would crash the process; the retry loop and 503s already handle it.
  connection.on('error', (error: unknown) => {
    logger.warn('database error', { database: where, reason: reasonOf(error) });
  });
  connection.on('disconnected', () => {
    if (!isClosed()) logger.warn('database disconnected', { database: where });
  });
  connection.on('reconnected', () => {
    logger.info('database reconnected', { database: where });
  });

  const ready = (async () => {
    while (!isClosed()) {
      try {
        await connection.openUri(uri, { ...connectOptions, ...overrides });
        logger.info('database connected', { database: where });
        return;
      } catch (error) {
        if (isClosed()) return;
        logger.warn('database connection failed; retrying', { database: where, reason: reasonOf(error), retryInMs: RETRY_DELAY_MS });
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  })();

  return {
    connection,
    ready,
    async close() {
      closed = true;
      await connection.close();
    },
  };
}

/** True while queries can be sent. */
export function isConnected(connection: Connection): boolean {
  return connection.readyState === mongoose.ConnectionStates.connected;
}

/** The scheme, hosts and database of a MongoDB URI, without the credentials or options, for logs. */
export function describeMongoUri(uri: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/?#]*@)?([^/?#]*)(\/[^?#]*)?/.exec(uri);
  if (!match) return 'mongodb://[unparseable URI]';
  return `${match[1] ?? ''}${match[2] ?? ''}${match[3] ?? ''}`;
}

// Server error codes that mean "this server cannot serve now" (shutting down, stepping down, unreachable peer): the
// driver's own list of retryable codes. A replica set election answers these for a few seconds. And 50,
// MaxTimeMSExpired: the server gave up on a statement at its maxTimeMS.
const UNAVAILABLE_CODES = new Set([6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** Whether `error` means the database could not be reached (answer 503), as opposed to a bug (answer 500). */
export function isDatabaseUnavailable(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const { mongo } = mongoose;
  return (
    error instanceof mongo.MongoNetworkError ||
    error instanceof mongo.MongoServerSelectionError ||
    error instanceof mongo.MongoNotConnectedError ||
    error instanceof mongo.MongoTopologyClosedError ||
    (error instanceof mongo.MongoServerError && typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)) ||
    // No free pooled connection in time (the driver does not export this class).
    error.name === 'MongoWaitQueueTimeoutError' ||
    // mongoose's own refusal to send a query before the first connect, with bufferCommands off.
    (error.name === 'MongooseError' && error.message.includes('before initial connection'))
  );
}

/** Whether `error` is a duplicate key error: an insert whose _id (or another unique key) is taken. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof mongoose.mongo.MongoServerError && error.code === 11000;
}

/** `text` with the URI's password, if any, blanked out: driver messages are logged and must not leak it. */
export function redactPassword(text: string, uri: string): string {
  const password = /^mongodb(?:\+srv)?:\/\/[^:@/?#]*:([^@/?#]+)@/.exec(uri)?.[1];
  if (!password) return text;
  return [password, safeDecode(password)].reduce((result, secret) => result.replaceAll(secret, '[redacted]'), text);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
