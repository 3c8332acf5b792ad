// The database the tests share: MONGODB_URI when set (a real MongoDB works too), else a FerretDB started here.
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db.js';
import { startFerretDB, type FerretDB } from './ferretdb.js';
import { silentLogger } from './logs.js';

let ownServer: Promise<FerretDB> | undefined;

export async function sharedMongoUri(): Promise<string> {
  const fromEnv = process.env.MONGODB_URI;
  if (fromEnv) return fromEnv;
  ownServer ??= startFerretDB();
  return (await ownServer).uri;
}

/** Stops the FerretDB that `sharedMongoUri` started, if any. */
export async function stopOwnServer(): Promise<void> {
  if (ownServer) await (await ownServer).destroy();
  ownServer = undefined;
}

export interface TestDatabase extends Database {
  /** Drops the test's database and closes the connection. */
  drop(): Promise<void>;
}

/** A connected database of its own (a fresh name on the shared server), for one test file. */
export async function openTestDatabase(label: string, logger = silentLogger()): Promise<TestDatabase> {
  const dbName = `tasks_test_${label}_${randomBytes(4).toString('hex')}`;
  const database = openDatabase(await sharedMongoUri(), logger, { dbName });
  await database.ready;
  return {
    ...database,
    async drop() {
      await database.connection.dropDatabase();
      await database.close();
    },
  };
}
