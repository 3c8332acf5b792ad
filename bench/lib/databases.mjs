// The throwaway databases (through scripts/db), crashing and restarting them, seeding them, and reading back what
// the load was told had been written.
import fs from 'node:fs';
import path from 'node:path';
import { MongoClient, ObjectId } from 'mongodb';
import pg from 'pg';
import { onTeardown, runCommand } from './processes.mjs';
import { REPO, VENV_PYTHON } from './paths.mjs';

const FERRETDB_SH = path.join(REPO, 'scripts/db/ferretdb.sh');
const POSTGRES_SH = path.join(REPO, 'scripts/db/postgres.sh');

/**
 * A database server on loopback: { kind, url, crash(), restart() }; restart() resolves once it accepts connections.
 * FerretDB keeps its data in PostgreSQL at `postgresUrl`, or in SQLite when it is undefined.
 */
export async function startFerretDb(dir, port, postgresUrl) {
  const args = ['start', dir, String(port), ...(postgresUrl ? [postgresUrl] : [])];
  const start = async () => (await runCommand(FERRETDB_SH, args)).trim();
  const url = await start();
  onTeardown(() => runCommand(FERRETDB_SH, ['stop', dir]));
  return {
    kind: postgresUrl ? 'FerretDB (PostgreSQL)' : 'FerretDB (SQLite)',
    url,
    // kill -9: FerretDB gets no chance to flush or close anything.
    crash: () => process.kill(Number(fs.readFileSync(path.join(dir, 'ferretdb.pid'), 'utf8')), 'SIGKILL'),
    restart: start,
  };
}

export async function startPostgres(dir, port) {
  const start = async () => (await runCommand(POSTGRES_SH, ['start', dir, String(port)])).trim();
  const url = await start();
  onTeardown(async () => {
    await runCommand(POSTGRES_SH, ['stop', dir]);
  });
  return {
    kind: 'PostgreSQL',
    url,
    crash: () => crashPostgres(dir),
    restart: start,
  };
}

// kill -9 of the postmaster and, in the same instant, of every process it started: the whole server dies as in a
// crash, without the shutdown checkpoint; the restart goes through WAL recovery. Killing the postmaster alone would
// leave its backends running until they notice, and a restart meanwhile can refuse the still-attached shared memory.
function crashPostgres(dir) {
  const postmaster = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  for (const pid of [postmaster, ...childrenOf(postmaster)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if (error.code !== 'ESRCH') throw error;
    }
  }
}

function childrenOf(parent) {
  const children = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after its closing parenthesis.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

// ---- tasks (MongoDB wire protocol) ----

/** Replaces every task with `count` fresh ones (done: false) and returns their ids as hex strings. */
export async function seedTasks(mongoUrl, count) {
  return withMongo(mongoUrl, async (tasks) => {
    await tasks.deleteMany({});
    // The indexes the service's model declares (services/tasks/src/task-model.ts); created here so that the baseline
    // finds them even without the service.
    for (const time of ['createdAt', 'updatedAt']) {
      await tasks.createIndex({ [time]: 1, _id: 1 });
      await tasks.createIndex({ done: 1, [time]: 1, _id: 1 });
    }
    const start = Date.now() - count * 1000;
    const docs = Array.from({ length: count }, (_, i) => ({
      _id: new ObjectId(),
      title: `seeded task ${i}`,
      description: 'a task that was there before the load',
      done: false,
      createdAt: new Date(start + i * 1000),
      updatedAt: new Date(start + i * 1000),
    }));
    for (let i = 0; i < docs.length; i += 1000) await tasks.insertMany(docs.slice(i, i + 1000));
    return docs.map((doc) => doc._id.toHexString());
  });
}

/** Of the writes the load saw acknowledged, those missing from the database: { created, updated } lists of ids. */
export async function lostTaskWrites(mongoUrl, acknowledged) {
  return withMongo(mongoUrl, async (tasks) => {
    const created = await missingIds(tasks, acknowledged.created, {});
    // Every update sets done: true on a task that was not done yet, so a task still not done lost its update.
    const updated = await missingIds(tasks, acknowledged.updated, { done: true });
    return { created, updated };
  });
}

/** Of the writes that got no answer, those the database has anyway: { created, updated } counts. */
export async function appliedTaskWrites(mongoUrl, unanswered) {
  return withMongo(mongoUrl, async (tasks) => {
    // Creates carry a unique title, since their id was never seen.
    const created = await tasks.countDocuments({ title: { $in: unanswered.created } });
    const notDone = await missingIds(tasks, unanswered.updated.map((update) => update.id), { done: true });
    return { created, updated: unanswered.updated.length - notDone.length };
  });
}

async function missingIds(tasks, ids, filter) {
  const found = new Set();
  for (let i = 0; i < ids.length; i += 1000) {
    const batch = ids.slice(i, i + 1000).map((id) => new ObjectId(id));
    const docs = await tasks.find({ _id: { $in: batch }, ...filter }, { projection: { _id: 1 } }).toArray();
    for (const doc of docs) found.add(doc._id.toHexString());
  }
  return ids.filter((id) => !found.has(id));
}

async function withMongo(mongoUrl, work) {
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    return await work(client.db().collection('tasks'));
  } finally {
    await client.close();
  }
}

// ---- requests (PostgreSQL) ----

/** Creates the requests table with the service's own DDL (requests_service.db.create_schema). */
export async function createRequestsSchema(postgresUrl) {
  const script = 'import sys, psycopg2; from requests_service.db import create_schema; create_schema(psycopg2.connect(sys.argv[1]))';
  await runCommand(VENV_PYTHON, ['-c', script, postgresUrl], { cwd: path.join(REPO, 'services/requests') });
}

/** Replaces every request with `count` pending ones for the given tasks; returns their ids. */
export async function seedRequests(postgresUrl, count, taskIds) {
  return withPostgres(postgresUrl, async (client) => {
    await client.query('TRUNCATE requests RESTART IDENTITY');
    const { rows } = await client.query(
      `INSERT INTO requests (task_id, requester, note)
       SELECT ($1::text[])[1 + (n % cardinality($1::text[]))], 'seeder ' || n, 'there before the load'
       FROM generate_series(1, $2::int) AS n
       RETURNING id`,
      [taskIds, count],
    );
    // pg returns BIGINT as a string; ids stay below 2^53 here.
    return rows.map((row) => Number(row.id));
  });
}

/** Of the writes the load saw acknowledged, those the database does not have: { created, updated } lists of ids. */
export async function lostRequestWrites(postgresUrl, acknowledged) {
  return withPostgres(postgresUrl, async (client) => {
    const createdIds = acknowledged.created;
    const { rows: present } = await client.query('SELECT id FROM requests WHERE id = ANY($1::bigint[])', [createdIds]);
    const found = new Set(present.map((row) => Number(row.id)));
    const created = createdIds.filter((id) => !found.has(id));

    // Decisions are final (pending → approved or rejected, once), so each acknowledged one must still be there.
    const updateIds = acknowledged.updated.map((update) => update.id);
    const { rows } = await client.query('SELECT id, status FROM requests WHERE id = ANY($1::bigint[])', [updateIds]);
    const status = new Map(rows.map((row) => [Number(row.id), row.status]));
    const updated = acknowledged.updated.filter((update) => status.get(update.id) !== update.status).map((u) => u.id);
    return { created, updated };
  });
}

/** Of the writes that got no answer, those the database has anyway: { created, updated } counts. */
export async function appliedRequestWrites(postgresUrl, unanswered) {
  return withPostgres(postgresUrl, async (client) => {
    // Creates carry a unique requester, since their id was never seen.
    const { rows: created } = await client.query('SELECT count(*)::int AS n FROM requests WHERE requester = ANY($1::text[])', [
      unanswered.created,
    ]);
    const { rows: updated } = await client.query(
      "SELECT count(*)::int AS n FROM requests WHERE id = ANY($1::bigint[]) AND status <> 'pending'",
      [unanswered.updated.map((update) => update.id)],
    );
    return { created: created[0].n, updated: updated[0].n };
  });
}

async function withPostgres(postgresUrl, work) {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
