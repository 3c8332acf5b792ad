// Concurrent updates of one task, with real concurrency on the real database (FerretDB here, or MONGODB_URI): no update
// is lost, and updated_at never goes back and always is the one an answer reported.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { TEST_CALLERS } from './support/callers.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { listen, request, type Listening } from './support/http.js';
import { silentLogger } from './support/logs.js';

describe('concurrent updates of one task', function () {
  this.timeout(60000);
  let database: TestDatabase;
  let server: Listening;
  // The service's clock, which a test may set back (as an NTP step can).
  let setBack = 0;

  before(async () => {
    database = await openTestDatabase('races');
    const clock = (): Date => new Date(Date.now() - setBack);
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS, clock }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  async function create(title: string): Promise<TaskJson> {
    const reply = await request(server.url, '/tasks', { method: 'POST', body: { title } });
    expect(reply.status, reply.text).to.equal(201);
    return reply.json as TaskJson;
  }

  async function patch(id: string, body: Record<string, unknown>): Promise<TaskJson> {
    const reply = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body });
    expect(reply.status, reply.text).to.equal(200);
    return reply.json as TaskJson;
  }

  async function read(id: string): Promise<TaskJson> {
    return (await request(server.url, `/tasks/${id}`)).json as TaskJson;
  }

  const latest = (tasks: TaskJson[]): string => tasks.map((task) => task.updated_at).sort().at(-1) ?? '';

  it('keeps all of three PATCHes of different fields sent at once (20 times)', async () => {
    for (let round = 0; round < 20; round++) {
      const task = await create(`race ${round}`);
      const answers = await Promise.all([
        patch(task.id, { title: `renamed ${round}` }),
        patch(task.id, { done: true }),
        patch(task.id, { description: `described ${round}` }),
      ]);
      const stored = await read(task.id);
      expect(stored, `round ${round}`).to.include({ title: `renamed ${round}`, done: true, description: `described ${round}` });
      expect(stored.updated_at, `round ${round}`).to.equal(latest(answers));
    }
  });

  it('after 20 PATCHes of one field at once, stores exactly the last answer, and updated_at never goes back (5 times)', async () => {
    for (let round = 0; round < 5; round++) {
      const task = await create(`contended ${round}`);
      // Reads one after the other while the updates run: what each saw, in order.
      const seen: TaskJson[] = [];
      const updates = { running: true };
      const reader = (async () => {
        while (updates.running) seen.push(await read(task.id));
      })();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => patch(task.id, { title: `title ${n}` })));
      updates.running = false;
      await reader;
      const stored = await read(task.id);

      // The stored task is one answer, whole: the one with the latest updated_at.
      const last = answers.filter((answer) => answer.updated_at === latest(answers));
      expect(last.map((answer) => JSON.stringify(answer)), `round ${round}`).to.include(JSON.stringify(stored));
      // Every state a reader saw was the created task or one answer, whole, and updated_at never went back.
      const states = new Set([task, ...answers].map((state) => JSON.stringify(state)));
      for (const state of seen) expect(states.has(JSON.stringify(state)), JSON.stringify(state)).to.equal(true);
      const times = [...seen, stored].map((state) => state.updated_at);
      expect(times, `round ${round}`).to.deep.equal([...times].sort());
      for (const answer of answers) expect(answer.updated_at >= task.updated_at).to.equal(true);
    }
  });

  it('never moves updated_at back, even when the clock steps back: the answer says the time stored', async () => {
    const task = await create('clock step');
    const before = await patch(task.id, { done: true });
    setBack = 60_000;
    try {
      const after = await patch(task.id, { description: 'after the step' });
      expect(after.updated_at).to.equal(before.updated_at);
      expect(await read(task.id)).to.deep.equal(after);
    } finally {
      setBack = 0;
    }
  });
});
