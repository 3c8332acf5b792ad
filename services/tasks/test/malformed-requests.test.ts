// Bad input of every kind: each gets a 4xx with a JSON `{ error, details }` body, never a 500.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { silentLogger } from './support/logs.js';
import { listen, request, type Listening, type RequestOptions } from './support/http.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const MISSING_ID = '0123456789abcdef01234567';
/** Stands for the id of a task that exists; replaced once the task is created. */
const EXISTING = ':existing';

interface Case {
  name: string;
  method: string;
  path: string;
  options?: RequestOptions;
  status: number;
  /** A detail's path that the answer must name, when the case is about one field. */
  detailPath?: string;
}

const post = (name: string, body: string | Buffer, status = 400, detailPath?: string, headers: Record<string, string> = JSON_TYPE): Case => ({
  name,
  method: 'POST',
  path: '/tasks',
  options: { headers, body },
  status,
  detailPath,
});
const patch = (name: string, body: string, detailPath?: string): Case => ({
  name,
  method: 'PATCH',
  path: `/tasks/${EXISTING}`,
  options: { headers: JSON_TYPE, body },
  status: 400,
  detailPath,
});
const query = (name: string, search: string, detailPath?: string): Case => ({ name, method: 'GET', path: `/tasks?${search}`, status: 400, detailPath });

const cases: Case[] = [
  // Bodies that are not JSON objects.
  post('truncated JSON', '{"title":', 400, 'body'),
  post('not JSON at all', 'title=hello', 400, 'body'),
  post('single-quoted JSON', "{'title':'hello'}", 400, 'body'),
  post('JSON null', 'null', 400, 'body'),
  post('a JSON string', '"hello"', 400, 'body'),
  post('a JSON array', '[{"title":"hello"}]', 400, 'body'),
  post('an empty object', '{}', 400, 'body.title'),
  post('an empty body', '', 400, 'body.title'),
  // Wrong types and values.
  post('a numeric title', '{"title":42}', 400, 'body.title'),
  post('a null title', '{"title":null}', 400, 'body.title'),
  post('an object title', '{"title":{"$gt":""}}', 400, 'body.title'),
  post('an empty title', '{"title":""}', 400, 'body.title'),
  post('a blank title', '{"title":"   "}', 400, 'body.title'),
  post('a title over 200 characters', JSON.stringify({ title: 'x'.repeat(201) }), 400, 'body.title'),
  post('a description over 2000 characters', JSON.stringify({ title: 't', description: 'd'.repeat(2001) }), 400, 'body.description'),
  post('a numeric description', '{"title":"t","description":7}', 400, 'body.description'),
  post('done as a string', '{"title":"t","done":"true"}', 400, 'body.done'),
  post('done as a number', '{"title":"t","done":1}', 400, 'body.done'),
  // Fields the client may not set.
  post('an unknown field', '{"title":"t","priority":1}', 400, 'body'),
  post('an id', `{"title":"t","id":"${MISSING_ID}"}`, 400, 'body'),
  post('a createdAt', '{"title":"t","createdAt":"2020-01-01T00:00:00Z"}', 400, 'body'),
  post('a __proto__ key', '{"title":"t","__proto__":{"done":true}}', 400, 'body'),
  post('a Mongo operator', '{"title":"t","$set":{"done":true}}', 400, 'body'),
  // Bodies the JSON parser refuses.
  post('a text/plain body', '{"title":"t"}', 415, 'headers.content-type', { 'content-type': 'text/plain' }),
  post('a form body', 'title=t', 415, 'headers.content-type', { 'content-type': 'application/x-www-form-urlencoded' }),
  post('a body without Content-Type', Buffer.from('{"title":"t"}'), 415, 'headers.content-type', {}),
  post('an unsupported charset', '{"title":"t"}', 415, 'body', { 'content-type': 'application/json; charset=latin1' }),
  post('an unsupported Content-Encoding', '{"title":"t"}', 415, 'body', { ...JSON_TYPE, 'content-encoding': 'bogus' }),
  post('a corrupt gzip body', '{"title":"t"}', 400, 'body', { ...JSON_TYPE, 'content-encoding': 'gzip' }),
  post('a body over 16 kB', JSON.stringify({ title: 't', description: 'd'.repeat(20_000) }), 413, 'body'),
  // Ids that are not ObjectIds.
  { name: 'GET with a short id', method: 'GET', path: '/tasks/12345', status: 400, detailPath: 'params.id' },
  { name: 'GET with a word for an id', method: 'GET', path: '/tasks/not-an-id', status: 400, detailPath: 'params.id' },
  { name: 'GET with 24 non-hex characters', method: 'GET', path: '/tasks/zzzzzzzzzzzzzzzzzzzzzzzz', status: 400, detailPath: 'params.id' },
  { name: 'GET with a 25-character id', method: 'GET', path: `/tasks/${MISSING_ID}0`, status: 400, detailPath: 'params.id' },
  { name: 'GET with a 12-byte string id', method: 'GET', path: '/tasks/abcdefghijkl', status: 400, detailPath: 'params.id' },
  { name: 'PATCH with a bad id', method: 'PATCH', path: '/tasks/bad', options: { body: { done: true } }, status: 400, detailPath: 'params.id' },
  { name: 'DELETE with a bad id', method: 'DELETE', path: '/tasks/bad', status: 400, detailPath: 'params.id' },
  // Updates.
  patch('an empty update', '{}', 'body'),
  patch('a null title', '{"title":null}', 'body.title'),
  patch('done as a string', '{"done":"false"}', 'body.done'),
  patch('an unknown field', '{"owner":"me"}', 'body'),
  patch('an updatedAt', '{"updatedAt":"2020-01-01T00:00:00Z"}', 'body'),
  patch('truncated JSON', '{"done":tr', 'body'),
  patch('an over-long title', JSON.stringify({ title: 'y'.repeat(201) }), 'body.title'),
  // Query parameters.
  query('limit 0', 'limit=0', 'query.limit'),
  query('limit over 100', 'limit=101', 'query.limit'),
  query('a negative limit', 'limit=-1', 'query.limit'),
  query('a fractional limit', 'limit=1.5', 'query.limit'),
  query('a word for limit', 'limit=ten', 'query.limit'),
  query('an empty limit', 'limit=', 'query.limit'),
  query('a huge limit', 'limit=99999999999999999999', 'query.limit'),
  query('a repeated limit', 'limit=1&limit=2', 'query.limit'),
  query('a negative offset', 'offset=-5', 'query.offset'),
  query('a word for offset', 'offset=first', 'query.offset'),
  query('done=yes', 'done=yes', 'query.done'),
  query('done=1', 'done=1', 'query.done'),
  query('an unknown parameter', 'sort=title', 'query'),
  query('a bracketed parameter', 'done[]=true', 'query'),
  // Routes and methods.
  { name: 'an unknown route', method: 'GET', path: '/nope', status: 404, detailPath: 'url' },
  { name: 'a path below a task', method: 'GET', path: `/tasks/${MISSING_ID}/owner`, status: 404, detailPath: 'url' },
  { name: 'a task that does not exist', method: 'GET', path: `/tasks/${MISSING_ID}`, status: 404, detailPath: 'params.id' },
  { name: 'PUT on a task', method: 'PUT', path: `/tasks/${MISSING_ID}`, options: { body: { title: 't' } }, status: 405, detailPath: 'method' },
  { name: 'POST on a task', method: 'POST', path: `/tasks/${MISSING_ID}`, options: { body: { title: 't' } }, status: 405, detailPath: 'method' },
  { name: 'DELETE on the collection', method: 'DELETE', path: '/tasks', status: 405, detailPath: 'method' },
];

describe('malformed requests', () => {
  let database: TestDatabase;
  let server: Listening;
  let existing: TaskJson;

  before(async () => {
    database = await openTestDatabase('malformed');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection }));
    existing = (await request(server.url, '/tasks', { method: 'POST', body: { title: 'untouched', description: 'as created' } })).json as TaskJson;
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  it('has at least 30 cases', () => {
    expect(cases.length).to.be.at.least(30);
  });

  for (const { name, method, path, options, status, detailPath } of cases) {
    it(`${method} ${path.slice(0, 40)}: ${name} → ${status}`, async () => {
      const reply = await request(server.url, path.replace(EXISTING, existing.id), { method, ...options });
      expect(reply.status, reply.text).to.equal(status);
      expect(reply.headers['content-type']).to.match(/^application\/json/);
      const body = reply.json as { error: unknown; details: { path: string; message: string }[] };
      expect(body.error).to.be.a('string').with.length.greaterThan(0);
      expect(body.details).to.be.an('array').with.length.greaterThan(0);
      for (const detail of body.details) {
        expect(detail.path).to.be.a('string');
        expect(detail.message).to.be.a('string').with.length.greaterThan(0);
      }
      if (detailPath) expect(body.details.map((detail) => detail.path)).to.include(detailPath);
    });
  }

  it('left the existing task unchanged and created nothing', async () => {
    expect((await request(server.url, `/tasks/${existing.id}`)).json).to.deep.equal(existing);
    const all = (await request(server.url, '/tasks')).json as { total: number };
    expect(all.total).to.equal(1);
  });

  it('names the allowed methods on a 405', async () => {
    const reply = await request(server.url, '/tasks', { method: 'DELETE' });
    expect(reply.headers.allow).to.equal('GET, POST');
  });
});
