// The whole CRUD flow against a real database: lists with their sort, filters and next pages, methods, and
// concurrent deletes. Every answer is also checked against openapi.json (support/http.ts).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createApp, OPENAPI_PATH } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { TEST_CALLERS } from './support/callers.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { silentLogger } from './support/logs.js';
import { listen, request, type Listening } from './support/http.js';

interface TaskList {
  items: TaskJson[];
  total: number;
  limit: number;
  offset: number;
  next: string | null;
}

describe('tasks API', () => {
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('api');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS }));
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
    expect(reply.json).to.deep.equal({ status: 'ok', database: 'ok' });
  });

  it('serves its OpenAPI document at /openapi.json, as it is in the repository', async () => {
    const reply = await request(server.url, '/openapi.json');
    expect(reply.status).to.equal(200);
    expect(reply.json).to.deep.equal(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')));
  });

  it('creates, reads, updates, lists and deletes tasks', async () => {
    // Create: defaults filled in, title trimmed, the exact contract shape.
    const first = await create({ title: '  Paint the fence  ' });
    expect(first).to.have.all.keys('id', 'title', 'description', 'done', 'created_at', 'updated_at');
    expect(first.id).to.match(/^[0-9a-f]{24}$/);
    expect(first).to.include({ title: 'Paint the fence', description: '', done: false });
    expect(new Date(first.created_at).toISOString()).to.equal(first.created_at);
    expect(first.updated_at).to.equal(first.created_at);

    const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'Fix the roof', description: 'before winter', done: true } });
    expect(created.headers.location).to.equal(`/tasks/${(created.json as TaskJson).id}`);
    const second = created.json as TaskJson;
    expect(second).to.include({ title: 'Fix the roof', description: 'before winter', done: true });

    // Read: the same representation, also with the id in upper case.
    const read = await request(server.url, `/tasks/${first.id}`);
    expect(read.status).to.equal(200);
    expect(read.json).to.deep.equal(first);
    expect((await request(server.url, `/tasks/${first.id.toUpperCase()}`)).json).to.deep.equal(first);

    // Update: only the fields sent change, and updated_at moves on.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const patched = await request(server.url, `/tasks/${first.id}`, { method: 'PATCH', body: { done: true, description: 'white' } });
    expect(patched.status, patched.text).to.equal(200);
    const updated = patched.json as TaskJson;
    expect(updated).to.include({ id: first.id, title: 'Paint the fence', description: 'white', done: true, created_at: first.created_at });
    expect(Date.parse(updated.updated_at)).to.be.greaterThan(Date.parse(first.updated_at));
    expect((await request(server.url, `/tasks/${first.id}`)).json).to.deep.equal(updated);

    // List: newest first.
    const all = await list('');
    expect(all).to.deep.include({ total: 2, limit: 20, offset: 0, next: null });
    expect(all.items.map((task) => task.id)).to.deep.equal([second.id, first.id]);
    expect(all.items[1]).to.deep.equal(updated);

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
    expect((await list('')).items.map((task) => task.id)).to.deep.equal([first.id]);

    await request(server.url, `/tasks/${first.id}`, { method: 'DELETE' });
  });

  it('gives exactly one of 50 concurrent deletes of a task its 204, and the others 404', async () => {
    for (let round = 0; round < 3; round++) {
      const task = await create({ title: `deleted concurrently ${round}` });
      const replies = await Promise.all(Array.from({ length: 50 }, () => request(server.url, `/tasks/${task.id}`, { method: 'DELETE' })));
      const statuses = replies.map((reply) => reply.status);
      expect(statuses.filter((status) => status === 204), `round ${round}: ${statuses.join(' ')}`).to.have.lengthOf(1);
      expect(statuses.filter((status) => status === 404)).to.have.lengthOf(49);
    }
  });

  describe('methods', () => {
    const paths: [string, string][] = [
      ['/tasks', 'GET, HEAD, POST, OPTIONS'],
      ['/tasks/0123456789abcdef01234567', 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      ['/health', 'GET, HEAD, OPTIONS'],
      ['/openapi.json', 'GET, HEAD, OPTIONS'],
    ];
    for (const [path, allow] of paths) {
      it(`${path}: OPTIONS is 204 with Allow ${allow}; PUT is 405 with the same Allow`, async () => {
        const options = await request(server.url, path, { method: 'OPTIONS' });
        expect(options.status).to.equal(204);
        expect(options.headers.allow).to.equal(allow);
        expect(options.text).to.equal('');
        const put = await request(server.url, path, { method: 'PUT', body: { title: 't' } });
        expect(put.status).to.equal(405);
        expect(put.headers.allow).to.equal(allow);
      });
    }

    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      it(`${method} /health is 405 with Allow, not 404`, async () => {
        const reply = await request(server.url, '/health', { method });
        expect(reply.status).to.equal(405);
        expect(reply.headers.allow).to.equal('GET, HEAD, OPTIONS');
        expect(reply.json).to.deep.include({ error: 'method not allowed' });
      });
    }

    it('answers a conditional GET in full: no ETag, no 304', async () => {
      const task = await create({ title: 'conditional' });
      try {
        expect((await request(server.url, `/tasks/${task.id}`)).headers.etag).to.equal(undefined);
        const conditions: Record<string, string>[] = [{ 'if-none-match': '*' }, { 'if-none-match': 'W/"x"' }, { 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }];
        for (const headers of conditions) {
          const reply = await request(server.url, `/tasks/${task.id}`, { headers });
          expect(reply.status, JSON.stringify(headers)).to.equal(200);
          expect(reply.json).to.deep.equal(task);
        }
      } finally {
        await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' });
      }
    });

    it('answers HEAD like GET, without a body', async () => {
      const task = await create({ title: 'head' });
      const head = await request(server.url, `/tasks/${task.id}`, { method: 'HEAD' });
      expect(head.status).to.equal(200);
      expect(head.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(head.text).to.equal('');
      expect((await request(server.url, '/tasks/0123456789abcdef01234567', { method: 'HEAD' })).status).to.equal(404);
      await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' });
    });

    for (const path of ['/tasks/', '/health/', `/tasks/0123456789abcdef01234567/`, '/openapi.json/']) {
      it(`has no trailing slash: GET ${path} is 404`, async () => {
        const reply = await request(server.url, path);
        expect(reply.status).to.equal(404);
        expect(reply.json).to.deep.include({ error: 'not found' });
      });
    }
  });

  describe('listing', () => {
    const created: TaskJson[] = [];
    const titles = ['Buy milk', 'Paint the FENCE', 'fence post (a.k.a. pole)', 'Call mum', 'Fix the roof', 'Fence.*', 'Renée’s café 🏡'];

    before(async () => {
      // Seven tasks, oldest first; every third one done.
      for (const [i, title] of titles.entries()) created.push(await create({ title, done: i % 3 === 0 }));
    });

    const ids = (page: TaskList): string[] => page.items.map((task) => task.id);

    it('pages with limit and offset, newest first, without gaps or repeats, and follows next to the end', async () => {
      const newestFirst = [...created].reverse().map((task) => task.id);
      const seen: string[] = [];
      let path: string | null = '/tasks?limit=3';
      const nexts: (string | null)[] = [];
      while (path !== null) {
        const page = await list(path.slice('/tasks'.length));
        expect(page).to.include({ total: 7, limit: 3 });
        seen.push(...ids(page));
        path = page.next;
        nexts.push(page.next);
      }
      expect(seen).to.deep.equal(newestFirst);
      expect(nexts).to.deep.equal(['/tasks?limit=3&offset=3&sort=-created_at', '/tasks?limit=3&offset=6&sort=-created_at', null]);
      expect(await list('?offset=7')).to.deep.include({ items: [], next: null });
      // The page that ends exactly at the last task is the last page; one short of it is not.
      expect((await list('?limit=7')).next).to.equal(null);
      expect((await list('?limit=6')).next).to.equal('/tasks?limit=6&offset=6&sort=-created_at');
      expect((await list('?limit=2&offset=5')).next).to.equal(null);
      expect(await list('?offset=100000')).to.deep.include({ items: [], total: 7, next: null });
    });

    it('accepts the largest limit and caps nothing below it', async () => {
      const page = await list('?limit=100');
      expect(page.limit).to.equal(100);
      expect(page.items).to.have.lengthOf(7);
    });

    it('sorts by created_at or updated_at, either way', async () => {
      const oldestFirst = created.map((task) => task.id);
      expect(ids(await list('?sort=created_at'))).to.deep.equal(oldestFirst);
      expect(ids(await list('?sort=-created_at'))).to.deep.equal([...oldestFirst].reverse());

      // Touch the oldest: it is now the most recently updated.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await request(server.url, `/tasks/${oldestFirst[0] ?? ''}`, { method: 'PATCH', body: { description: 'touched' } });
      const byUpdate = [...oldestFirst.slice(1), oldestFirst[0]];
      expect(ids(await list('?sort=updated_at'))).to.deep.equal(byUpdate);
      expect(ids(await list('?sort=-updated_at'))).to.deep.equal([...byUpdate].reverse());
    });

    it('orders tasks with the same time by id, in the sort direction, so that pages are stable', async () => {
      // Same created_at and updated_at for all three: written straight to the database.
      const at = new Date('2030-01-01T00:00:00.000Z');
      const { insertedIds } = await database.connection.collection('tasks').insertMany(
        ['tie a', 'tie b', 'tie c'].map((title) => ({ title, description: '', done: false, createdAt: at, updatedAt: at })),
      );
      const tied = Object.values(insertedIds).map((id) => id.toHexString()).sort();
      try {
        expect(ids(await list('?sort=-created_at&limit=3'))).to.deep.equal([...tied].reverse());
        expect(ids(await list('?sort=-updated_at&limit=3'))).to.deep.equal([...tied].reverse());
        expect(ids(await list(`?sort=created_at&offset=7`))).to.deep.equal(tied);
        // One at a time, following next: the same order, none twice.
        const paged: string[] = [];
        for (let offset = 0; offset < 3; offset++) paged.push(...ids(await list(`?sort=-created_at&limit=1&offset=${offset}`)));
        expect(paged).to.deep.equal([...tied].reverse());
      } finally {
        await database.connection.collection('tasks').deleteMany({ title: { $in: ['tie a', 'tie b', 'tie c'] } });
      }
    });

    it('filters on done, and keeps the filter in next', async () => {
      const done = await list('?done=true');
      expect(done.total).to.equal(3);
      expect(done.items.map((task) => task.title)).to.deep.equal([titles[6], titles[3], titles[0]]);

      const open = await list('?done=false&limit=2&offset=1');
      expect(open).to.include({ total: 4, limit: 2, offset: 1, next: '/tasks?limit=2&offset=3&sort=-created_at&done=false' });
      expect(open.items.map((task) => task.title)).to.deep.equal([titles[4], titles[2]]);
    });

    it('filters on text in the title: a literal, case-insensitive substring', async () => {
      const titlesOf = async (query: string): Promise<string[]> => (await list(query)).items.map((task) => task.title).sort();
      expect(await titlesOf('?q=fence')).to.deep.equal(['Fence.*', 'Paint the FENCE', 'fence post (a.k.a. pole)']);
      expect(await titlesOf('?q=FENCE&done=false')).to.deep.equal(['Fence.*', 'Paint the FENCE', 'fence post (a.k.a. pole)']);
      expect(await titlesOf('?q=fence&done=true')).to.deep.equal([]);
      // Characters that mean something in a regular expression mean nothing here.
      expect(await titlesOf('?q=.*')).to.deep.equal(['Fence.*']);
      expect(await titlesOf(`?q=${encodeURIComponent('(a.k.a.')}`)).to.deep.equal(['fence post (a.k.a. pole)']);
      expect(await titlesOf('?q=a.k.a')).to.deep.equal(['fence post (a.k.a. pole)']);
      expect(await titlesOf('?q=a%5Ek')).to.deep.equal([]);
      expect(await titlesOf(`?q=${encodeURIComponent('[a-z]')}`)).to.deep.equal([]);
      expect(await titlesOf(`?q=${encodeURIComponent('\\')}`)).to.deep.equal([]);
      expect(await titlesOf('?q=%00')).to.deep.equal([]);
      // Beyond ASCII, spaces as + or %20.
      expect(await titlesOf(`?q=${encodeURIComponent('CAFÉ 🏡')}`)).to.deep.equal(['Renée’s café 🏡']);
      expect(await titlesOf('?q=the+fence')).to.deep.equal(['Paint the FENCE']);
      const page = await list('?q=fence&limit=1');
      expect(page).to.include({ total: 3, next: '/tasks?limit=1&offset=1&sort=-created_at&q=fence' });
    });
  });
});
