// The database goes away mid-test, stopped or frozen: 503s within the documented bounds, honest about what they
// changed, and recovery without a restart once it is back. This file runs its own FerretDB, so stopping it never
// disturbs the server the other tests share.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import { connectOptions, isConnected, openDatabase, type Database } from '../src/db.js';
import type { TaskJson } from '../src/task-model.js';
import { TEST_CALLERS } from './support/callers.js';
import { silentLogger } from './support/logs.js';
import { tasksTitled } from './support/tasks.js';
import { startFerretDB, type FerretDB } from './support/ferretdb.js';
import { listen, request, type Listening, type Reply, type RequestOptions } from './support/http.js';

/** Right after the stop the driver may not know yet: a query then waits for server selection, and fails after it. */
const SLOW_PATH_MS = Number(connectOptions.serverSelectionTimeoutMS);
/**
 * Once the driver knows, the 503 must come at once, without trying the database (the guard in tasks-router.ts). The
 * bound is generous for a loaded machine, and well below the slow path it exists to avoid.
 */
const FAST_FAIL_MS = SLOW_PATH_MS / 2;

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`${what} did not happen within ${timeoutMs} ms`);
}

describe('database outage', function () {
  this.timeout(40000);
  let ferret: FerretDB;
  let database: Database;
  let server: Listening;

  before(async () => {
    ferret = await startFerretDB();
    database = openDatabase(ferret.uri, silentLogger(), { dbName: 'outage' });
    await database.ready;
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS }));
  });

  after(async () => {
    await server.close();
    await database.close();
    await ferret.destroy();
  });

  /** A 503 within `withinMs`; a change may say its outcome is unknown when it was sent before the driver knew. */
  function expect503(reply: Reply, what: string, withinMs: number, errors = ['database unreachable']): void {
    expect(reply.status, `${what}: ${reply.text}`).to.equal(503);
    expect(errors, `${what}: ${reply.text}`).to.include((reply.json as { error: string }).error);
    expect(reply.durationMs, `${what} took ${Math.round(reply.durationMs)} ms`).to.be.below(withinMs);
  }

  async function expectAll503(withinMs: number, when: string, task: TaskJson, changes: string[]): Promise<void> {
    expect503(await request(server.url, '/tasks'), `${when}: list`, withinMs);
    expect503(await request(server.url, `/tasks/${task.id}`), `${when}: read`, withinMs);
    expect503(await request(server.url, '/tasks', { method: 'POST', body: { title: 'lost' } }), `${when}: create`, withinMs, changes);
    expect503(await request(server.url, `/tasks/${task.id}`, { method: 'PATCH', body: { done: true } }), `${when}: update`, withinMs, changes);
    expect503(await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' }), `${when}: delete`, withinMs, changes);
    const health = await request(server.url, '/health');
    expect503(health, `${when}: health`, withinMs);
    expect(health.json).to.deep.equal({ status: 'unavailable', database: 'unreachable', error: 'database unreachable', details: [] });
  }

  it('answers 503 while the database is down, at once when the driver knows, and recovers when it returns', async () => {
    const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'survives the outage' } });
    expect(created.status).to.equal(201);
    const task = created.json as TaskJson;

    await ferret.stop();
    await expectAll503(SLOW_PATH_MS + 1000, 'at once', task, ['database unreachable', 'outcome unknown']);

    await waitFor('the driver noticing the outage', 10000, () => !isConnected(database.connection));
    await expectAll503(FAST_FAIL_MS, 'once the driver knows', task, ['database unreachable']);
    // Bad input is still bad input, whatever the database's state.
    expect((await request(server.url, '/nope')).status).to.equal(404);
    expect((await request(server.url, '/tasks/not-an-id')).status).to.equal(400);
    expect((await request(server.url, '/tasks', { method: 'POST', body: { title: '' } })).status).to.equal(400);

    await ferret.start();
    await waitFor('recovery', 15000, async () => (await request(server.url, '/health')).status === 200);

    const read = await request(server.url, `/tasks/${task.id}`);
    expect(read.status).to.equal(200);
    expect(read.json).to.deep.equal(task);
    const list = await request(server.url, '/tasks');
    expect(list.status).to.equal(200);
    expect((list.json as { total: number }).total).to.equal(1);
    expect((await request(server.url, '/tasks', { method: 'POST', body: { title: 'after the outage' } })).status).to.equal(201);
  });
});

// FerretDB frozen with SIGSTOP: its connections stay open and nothing answers, the hardest case for timeouts.
describe('database stalled (SIGSTOP)', function () {
  this.timeout(60000);
  // As docs/api.md and docs/tasks.md state them.
  const STALLED_ANSWER_MS = 3000;
  const RECOVERY_MS = 1000;
  const KEY_LEASE_MS = 10_000;
  let ferret: FerretDB;
  let database: Database;
  let server: Listening;
  let added = 0;

  before(async () => {
    ferret = await startFerretDB();
    database = openDatabase(ferret.uri, silentLogger(), { dbName: 'stalled' });
    await database.ready;
    const clock = (): Date => new Date(Date.now() + added);
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS, clock }));
  });

  after(async () => {
    await ferret.resume();
    await server.close();
    await database.close();
    await ferret.destroy();
  });

  const titled = (title: string): Promise<number> => tasksTitled(server.url, title);

  it('answers every request 503 within 3 s while stalled, health too, and serves again within 1 s of its return', async () => {
    // A request that hangs fails the test at once, with its name, rather than by mocha's timeout.
    const ask = (path: string, options: RequestOptions = {}): Promise<Reply> => request(server.url, path, { timeoutMs: 5000, ...options });
    const create = (title: string, key?: string): Promise<Reply> =>
      ask('/tasks', { method: 'POST', body: { title }, headers: key === undefined ? {} : { 'idempotency-key': key } });
    const task = (await create('stalled')).json as TaskJson;
    const doomed = (await create('deleted while stalled')).json as TaskJson;

    await ferret.pause();
    const creates: { title: string; key?: string; reply: Reply }[] = [];
    try {
      // Right after the freeze, once the driver may have noticed, and well into it.
      for (const [phase, afterMs] of [['at once', 0], ['after 2.5 s', 2500], ['after 5 s', 5000]] as const) {
        await new Promise((resolve) => setTimeout(resolve, afterMs === 0 ? 0 : 2500));
        const title = `created ${phase}`;
        const key = `stalled-${phase.replaceAll(" ", "-")}`;
        const [list, read, update, remove, health, plain, keyed] = await Promise.all([
          ask('/tasks'),
          ask(`/tasks/${task.id}`),
          ask(`/tasks/${task.id}`, { method: 'PATCH', body: { done: true } }),
          ask(`/tasks/${doomed.id}`, { method: 'DELETE' }),
          ask('/health'),
          create(title),
          create(`${title} with a key`, key),
        ]);
        for (const [what, reply] of Object.entries({ list, read, update, remove, health, plain, keyed })) {
          expect(reply.status, `${phase}, ${what}: ${reply.text}`).to.equal(503);
          expect(reply.durationMs, `${phase}, ${what} took ${Math.round(reply.durationMs)} ms`).to.be.below(STALLED_ANSWER_MS);
        }
        expect(['database unreachable', 'outcome unknown']).to.include((plain.json as { error: string }).error);
        creates.push({ title, reply: plain }, { title: `${title} with a key`, key, reply: keyed });
      }
    } finally {
      await ferret.resume();
    }
    const resumed = performance.now();
    while ((await ask('/health')).status !== 200) {
      expect(performance.now() - resumed, 'healthy again').to.be.below(RECOVERY_MS);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await request(server.url, `/tasks/${task.id}`)).status).to.equal(200);
    expect(performance.now() - resumed, 'serving again').to.be.below(RECOVERY_MS);

    // Honest 503s: "database unreachable" created nothing, even once the database is back and has read what it had.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const { title, reply } of creates) {
      const count = await titled(title);
      if ((reply.json as { error: string }).error === 'database unreachable') expect(count, title).to.equal(0);
      else expect(count, title).to.be.at.most(1);
    }
    // A retry with the key, once the first request's hold on it has passed, is safe: one task each.
    added += KEY_LEASE_MS;
    for (const { title, key } of creates.filter((create) => create.key !== undefined)) {
      const retry = await create(title, key);
      expect(retry.status, retry.text).to.equal(201);
      expect(await titled(title), title).to.equal(1);
    }
  });
});
