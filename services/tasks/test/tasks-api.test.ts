// The whole CRUD flow against a real database, with pagination, the `done` filter and the JSON contract.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { silentLogger } from './support/logs.js';
import { listen, request, type Listening } from './support/http.js';

interface TaskList {
  tasks: TaskJson[];
  total: number;
  limit: number;
  offset: number;
}

describe('tasks API', () => {
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('api');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  async function create(body: Record<string, unknown>): Promise<TaskJson> {
    const reply = await request(server.url, '/tasks', { method: 'POST', body });
    expect(reply.status, reply.text).to.equal(201);
    return reply.json as TaskJson;
  }

  async function list(query: string): Promise<TaskList> {
    const reply = await request(server.url, `/tasks${query}`);
    expect(reply.status, reply.text).to.equal(200);
    return reply.json as TaskList;
  }

  it('answers /health with the database state', async () => {
    const reply = await request(server.url, '/health');
    expect(reply.status).to.equal(200);
    expect(reply.json).to.deep.equal({ status: 'ok', database: 'connected' });
  });

  it('creates, reads, updates, lists and deletes tasks', async () => {
    // Create: defaults filled in, title trimmed, the exact contract shape.
    const first = await create({ title: '  Paint the fence  ' });
    expect(first).to.have.all.keys('id', 'title', 'description', 'done', 'createdAt', 'updatedAt');
    expect(first.id).to.match(/^[0-9a-f]{24}$/);
    expect(first).to.include({ title: 'Paint the fence', description: '', done: false });
    expect(new Date(first.createdAt).toISOString()).to.equal(first.createdAt);
    expect(first.updatedAt).to.equal(first.createdAt);

    const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'Fix the roof', description: 'before winter', done: true } });
    expect(created.headers.location).to.equal(`/tasks/${(created.json as TaskJson).id}`);
    const second = created.json as TaskJson;
    expect(second).to.include({ title: 'Fix the roof', description: 'before winter', done: true });

    // Read: the same representation.
    const read = await request(server.url, `/tasks/${first.id}`);
    expect(read.status).to.equal(200);
    expect(read.json).to.deep.equal(first);

    // Update: only the fields sent change, and updatedAt moves on.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const patched = await request(server.url, `/tasks/${first.id}`, { method: 'PATCH', body: { done: true, description: 'white' } });
    expect(patched.status, patched.text).to.equal(200);
    const updated = patched.json as TaskJson;
    expect(updated).to.include({ id: first.id, title: 'Paint the fence', description: 'white', done: true, createdAt: first.createdAt });
    expect(Date.parse(updated.updatedAt)).to.be.greaterThan(Date.parse(first.updatedAt));
    expect((await request(server.url, `/tasks/${first.id}`)).json).to.deep.equal(updated);

    // List: newest first.
    const all = await list('');
    expect(all).to.include({ total: 2, limit: 20, offset: 0 });
    expect(all.tasks.map((task) => task.id)).to.deep.equal([second.id, first.id]);
    expect(all.tasks[1]).to.deep.equal(updated);

    // Delete: 204, then gone.
    const deleted = await request(server.url, `/tasks/${second.id}`, { method: 'DELETE' });
    expect(deleted.status).to.equal(204);
    expect(deleted.text).to.equal('');
    for (const method of ['GET', 'DELETE']) {
      const gone = await request(server.url, `/tasks/${second.id}`, { method });
      expect(gone.status, method).to.equal(404);
      expect(gone.json).to.deep.include({ error: 'task not found' });
    }
    const patchGone = await request(server.url, `/tasks/${second.id}`, { method: 'PATCH', body: { done: false } });
    expect(patchGone.status).to.equal(404);
    expect((await list('')).tasks.map((task) => task.id)).to.deep.equal([first.id]);

    await request(server.url, `/tasks/${first.id}`, { method: 'DELETE' });
  });

  describe('listing', () => {
    const created: TaskJson[] = [];

    before(async () => {
      // Seven tasks, oldest first; every third one done.
      for (let i = 0; i < 7; i++) created.push(await create({ title: `task ${i}`, done: i % 3 === 0 }));
    });

    it('pages with limit and offset, newest first, without gaps or repeats', async () => {
      const newestFirst = [...created].reverse().map((task) => task.id);
      const seen: string[] = [];
      for (let offset = 0; offset < 7; offset += 3) {
        const page = await list(`?limit=3&offset=${offset}`);
        expect(page).to.include({ total: 7, limit: 3, offset });
        expect(page.tasks).to.have.lengthOf(Math.min(3, 7 - offset));
        seen.push(...page.tasks.map((task) => task.id));
      }
      expect(seen).to.deep.equal(newestFirst);
      expect((await list('?offset=7')).tasks).to.deep.equal([]);
    });

    it('accepts the largest limit and caps nothing below it', async () => {
      const page = await list('?limit=100');
      expect(page.limit).to.equal(100);
      expect(page.tasks).to.have.lengthOf(7);
    });

    it('filters on done', async () => {
      const done = await list('?done=true');
      expect(done.total).to.equal(3);
      expect(done.tasks.map((task) => task.title)).to.deep.equal(['task 6', 'task 3', 'task 0']);
      expect(done.tasks.every((task) => task.done)).to.equal(true);

      const open = await list('?done=false&limit=2&offset=1');
      expect(open).to.include({ total: 4, limit: 2, offset: 1 });
      expect(open.tasks.map((task) => task.title)).to.deep.equal(['task 4', 'task 2']);
    });
  });
});
