// The database goes away mid-test: 503s, fast once the driver knows, then recovery without a restart once it is back.
// This file runs its own FerretDB, so stopping it never disturbs the server the other tests share.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import { connectOptions, isConnected, openDatabase, type Database } from '../src/db.js';
import type { TaskJson } from '../src/task-model.js';
import { silentLogger } from './support/logs.js';
import { startFerretDB, type FerretDB } from './support/ferretdb.js';
import { listen, request, type Listening, type Reply } from './support/http.js';

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
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection }));
  });

  after(async () => {
    await server.close();
    await database.close();
    await ferret.destroy();
  });

  function expect503(reply: Reply, what: string, withinMs: number): void {
    expect(reply.status, `${what}: ${reply.text}`).to.equal(503);
    expect(reply.json, what).to.deep.include({ error: 'database unreachable' });
    expect(reply.durationMs, `${what} took ${Math.round(reply.durationMs)} ms`).to.be.below(withinMs);
  }

  async function expectAll503(withinMs: number, when: string, task: TaskJson): Promise<void> {
    expect503(await request(server.url, '/tasks'), `${when}: list`, withinMs);
    expect503(await request(server.url, `/tasks/${task.id}`), `${when}: read`, withinMs);
    expect503(await request(server.url, '/tasks', { method: 'POST', body: { title: 'lost' } }), `${when}: create`, withinMs);
    expect503(await request(server.url, `/tasks/${task.id}`, { method: 'PATCH', body: { done: true } }), `${when}: update`, withinMs);
    expect503(await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' }), `${when}: delete`, withinMs);
    const health = await request(server.url, '/health');
    expect503(health, `${when}: health`, withinMs);
    expect(health.json).to.deep.equal({ status: 'unavailable', database: 'unreachable', error: 'database unreachable', details: [] });
  }

  it('answers 503 while the database is down, at once when the driver knows, and recovers when it returns', async () => {
    const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'survives the outage' } });
    expect(created.status).to.equal(201);
    const task = created.json as TaskJson;

    await ferret.stop();
    await expectAll503(SLOW_PATH_MS + 1000, 'at once', task);

    await waitFor('the driver noticing the outage', 10000, () => !isConnected(database.connection));
    await expectAll503(FAST_FAIL_MS, 'once the driver knows', task);
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
