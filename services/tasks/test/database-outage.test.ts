// The database goes away mid-test: prompt 503s, then recovery without a restart once it is back.
// This file runs its own FerretDB, so stopping it never disturbs the server the other tests share.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import { openDatabase, type Database } from '../src/db.js';
import type { TaskJson } from '../src/task-model.js';
import { silentLogger } from './support/logs.js';
import { startFerretDB, type FerretDB } from './support/ferretdb.js';
import { listen, request, type Listening, type Reply } from './support/http.js';

/** The driver gives up on an unreachable server after 2 s (serverSelectionTimeoutMS); allow some slack. */
const PROMPT_MS = 3000;

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
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

  function expect503(reply: Reply, what: string): void {
    expect(reply.status, `${what}: ${reply.text}`).to.equal(503);
    expect(reply.json, what).to.deep.include({ error: 'database unavailable' });
    expect(reply.durationMs, `${what} took ${reply.durationMs} ms`).to.be.below(PROMPT_MS);
  }

  it('answers 503 while the database is down and recovers when it returns', async () => {
    const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'survives the outage' } });
    expect(created.status).to.equal(201);
    const task = created.json as TaskJson;

    await ferret.stop();

    // Right after the stop (the driver may not know yet) and again once it has noticed.
    for (const round of ['at once', 'a moment later']) {
      if (round !== 'at once') await new Promise((resolve) => setTimeout(resolve, 2500));
      expect503(await request(server.url, '/tasks'), `${round}: list`);
      expect503(await request(server.url, `/tasks/${task.id}`), `${round}: read`);
      expect503(await request(server.url, '/tasks', { method: 'POST', body: { title: 'lost' } }), `${round}: create`);
      expect503(await request(server.url, `/tasks/${task.id}`, { method: 'PATCH', body: { done: true } }), `${round}: update`);
      expect503(await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' }), `${round}: delete`);
      const health = await request(server.url, '/health');
      expect503(health, `${round}: health`);
      expect(health.json).to.deep.include({ status: 'unavailable' });
    }
    // Bad input is still bad input, whatever the database's state.
    expect((await request(server.url, '/nope')).status).to.equal(404);

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
