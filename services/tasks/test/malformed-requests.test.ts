// Bad input of every kind: each gets a 4xx with a JSON `{ error, details }` body, never a 500, and changes nothing.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { TEST_CALLERS } from './support/callers.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { MemoryStream } from './support/logs.js';
import { createLogger } from '../src/logger.js';
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
  /** The field a detail must name; null when the problem is the request as a whole (no detail names a field). */
  field: string | null;
}

const post = (name: string, body: string | Buffer, status: number, field: string | null, headers: Record<string, string> = JSON_TYPE): Case => ({
  name,
  method: 'POST',
  path: '/tasks',
  options: { headers, body },
  status,
  field,
});
const patch = (name: string, body: string, field: string | null): Case => ({
  name,
  method: 'PATCH',
  path: `/tasks/${EXISTING}`,
  options: { headers: JSON_TYPE, body },
  status: 400,
  field,
});
const query = (name: string, search: string, field: string | null): Case => ({ name, method: 'GET', path: `/tasks?${search}`, status: 400, field });
const path = (name: string, method: string, target: string, status: number, field: string | null, options?: RequestOptions): Case => ({
  name,
  method,
  path: target,
  status,
  field,
  ...(options ? { options } : {}),
});

const cases: Case[] = [
  // Bodies that are not JSON objects.
  post('truncated JSON', '{"title":', 400, null),
  post('not JSON at all', 'title=hello', 400, null),
  post('single-quoted JSON', "{'title':'hello'}", 400, null),
  post('JSON null', 'null', 400, null),
  post('a JSON string', '"hello"', 400, null),
  post('a JSON array', '[{"title":"hello"}]', 400, null),
  post('an empty object', '{}', 400, 'title'),
  post('an empty body', '', 400, 'title'),
  // Text that is not text.
  post('invalid UTF-8 in the body', Buffer.from([...Buffer.from('{"title":"caf'), 0xe9, ...Buffer.from('"}')]), 400, null),
  post('an overlong UTF-8 encoding', Buffer.from([...Buffer.from('{"title":"'), 0xc0, 0xaf, ...Buffer.from('"}')]), 400, null),
  post('UTF-8-encoded surrogate bytes', Buffer.from([...Buffer.from('{"title":"'), 0xed, 0xa0, 0x80, ...Buffer.from('"}')]), 400, null),
  post('a lone high surrogate in a title', '{"title":"a\\ud800b"}', 400, 'title'),
  post('a lone low surrogate in a description', '{"title":"t","description":"\\udc00"}', 400, 'description'),
  post('a reversed surrogate pair', '{"title":"\\udc00\\ud800"}', 400, 'title'),
  // Wrong types and values.
  post('a numeric title', '{"title":42}', 400, 'title'),
  post('a null title', '{"title":null}', 400, 'title'),
  post('an object title', '{"title":{"$gt":""}}', 400, 'title'),
  post('an empty title', '{"title":""}', 400, 'title'),
  post('a blank title', '{"title":" \\t\\n\\u3000 "}', 400, 'title'),
  post('a numeric description', '{"title":"t","description":7}', 400, 'description'),
  post('done as a string', '{"title":"t","done":"true"}', 400, 'done'),
  post('done as a number', '{"title":"t","done":1}', 400, 'done'),
  // Fields the client may not set.
  post('an unknown field', '{"title":"t","priority":1}', 400, 'priority'),
  post('an id', `{"title":"t","id":"${MISSING_ID}"}`, 400, 'id'),
  post('a created_at', '{"title":"t","created_at":"2020-01-01T00:00:00.000Z"}', 400, 'created_at'),
  post('a __proto__ key', '{"title":"t","__proto__":{"done":true}}', 400, '__proto__'),
  post('a Mongo operator', '{"title":"t","$set":{"done":true}}', 400, '$set'),
  post('a field with an empty name', '{"title":"t","":1}', 400, null),
  // Bodies refused before they are parsed.
  post('a text/plain body', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'text/plain' }),
  post('a form body', 'title=t', 415, 'Content-Type', { 'content-type': 'application/x-www-form-urlencoded' }),
  post('a JSON-like type', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/merge-patch+json' }),
  post('a body without Content-Type', Buffer.from('{"title":"t"}'), 415, 'Content-Type', {}),
  post('a latin1 charset', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/json; charset=latin1' }),
  post('a UTF-16 charset', Buffer.from('{"title":"t"}', 'utf16le'), 415, 'Content-Type', { 'content-type': 'application/json; charset=utf-16le' }),
  post('utf8 for utf-8', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/json; charset=utf8' }),
  post('a second charset', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/json; charset=utf-8; charset=latin1' }),
  post('a parameter other than charset', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/json; version=2' }),
  post('a charset with spaces around =', '{"title":"t"}', 415, 'Content-Type', { 'content-type': 'application/json; charset = utf-8' }),
  post('an unsupported Content-Encoding', '{"title":"t"}', 415, 'Content-Encoding', { ...JSON_TYPE, 'content-encoding': 'bogus' }),
  post('a gzip body', '{"title":"t"}', 415, 'Content-Encoding', { ...JSON_TYPE, 'content-encoding': 'gzip' }),
  // Ids that are not ObjectIds.
  path('GET with a short id', 'GET', '/tasks/12345', 400, 'id'),
  path('GET with a word for an id', 'GET', '/tasks/not-an-id', 400, 'id'),
  path('GET with 24 non-hex characters', 'GET', '/tasks/zzzzzzzzzzzzzzzzzzzzzzzz', 400, 'id'),
  path('GET with a 25-character id', 'GET', `/tasks/${MISSING_ID}0`, 400, 'id'),
  path('GET with a 12-byte string id', 'GET', '/tasks/abcdefghijkl', 400, 'id'),
  path('GET with a malformed percent-encoding', 'GET', '/tasks/%ZZ', 400, 'id'),
  path('GET with a cut-off percent-encoding', 'GET', '/tasks/%E2%82', 400, 'id'),
  path('GET with an encoded lone surrogate', 'GET', '/tasks/%ED%A0%80', 400, 'id'),
  path('GET with an encoded NUL', 'GET', '/tasks/%00', 400, 'id'),
  path('PATCH with a bad id', 'PATCH', '/tasks/bad', 400, 'id', { body: { done: true } }),
  path('DELETE with a bad id', 'DELETE', '/tasks/bad', 400, 'id'),
  path('DELETE with a malformed percent-encoding', 'DELETE', '/tasks/%ZZ', 400, 'id'),
  // Updates.
  patch('an empty update', '{}', null),
  patch('a null title', '{"title":null}', 'title'),
  patch('done as a string', '{"done":"false"}', 'done'),
  patch('an unknown field', '{"owner":"me"}', 'owner'),
  patch('an updated_at', '{"updated_at":"2020-01-01T00:00:00.000Z"}', 'updated_at'),
  patch('truncated JSON', '{"done":tr', null),
  patch('a lone surrogate', '{"title":"\\ud83d"}', 'title'),
  // Query parameters.
  query('limit 0', 'limit=0', 'limit'),
  query('a negative limit', 'limit=-1', 'limit'),
  query('a fractional limit', 'limit=1.5', 'limit'),
  query('a word for limit', 'limit=ten', 'limit'),
  query('an empty limit', 'limit=', 'limit'),
  query('a huge limit', 'limit=99999999999999999999', 'limit'),
  query('a repeated limit', 'limit=1&limit=2', 'limit'),
  query('a negative offset', 'offset=-5', 'offset'),
  query('a word for offset', 'offset=first', 'offset'),
  query('done=yes', 'done=yes', 'done'),
  query('done=1', 'done=1', 'done'),
  query('an unknown sort', 'sort=title', 'sort'),
  query('a camelCase sort', 'sort=-createdAt', 'sort'),
  query('an empty q', 'q=', 'q'),
  query('a repeated q', 'q=a&q=b', 'q'),
  query('an unknown parameter', 'priority=1', 'priority'),
  query('a bracketed parameter', 'done[]=true', 'done[]'),
  query('a parameter with an empty name', 'limit=5&=1', null),
  query('a repeated parameter with an empty name', '=1&=2', null),
  query('a malformed percent-encoding in a value', 'q=%ZZ', 'q'),
  query('invalid UTF-8 in a value', 'q=caf%E9', 'q'),
  query('an encoded lone surrogate in a value', 'q=%ED%B0%80', 'q'),
  query('a malformed percent-encoding in a name', '%ZZ=1', null),
  path('a query on a task', 'GET', `/tasks/${MISSING_ID}?fields=title`, 400, 'fields'),
  path('a query on a create', 'POST', '/tasks?done=true', 400, 'done', { body: { title: 't' } }),
  path('a query on /health', 'GET', '/health?verbose=1', 400, 'verbose'),
  // Routes and methods.
  path('an unknown route', 'GET', '/nope', 404, null),
  path('the root', 'GET', '/', 404, null),
  path('a path below a task', 'GET', `/tasks/${MISSING_ID}/owner`, 404, null),
  path('a task that does not exist', 'GET', `/tasks/${MISSING_ID}`, 404, 'id'),
  path('a trailing slash', 'POST', '/tasks/', 404, null, { body: { title: 't' } }),
  path('PUT on a task', 'PUT', `/tasks/${MISSING_ID}`, 405, null, { body: { title: 't' } }),
  path('POST on a task', 'POST', `/tasks/${MISSING_ID}`, 405, null, { body: { title: 't' } }),
  path('DELETE on the collection', 'DELETE', '/tasks', 405, null),
  path('POST on /health', 'POST', '/health', 405, null),
];

describe('malformed requests', () => {
  let database: TestDatabase;
  let server: Listening;
  let existing: TaskJson;
  const logs = new MemoryStream();

  before(async () => {
    database = await openTestDatabase('malformed');
    server = await listen(createApp({ logger: createLogger({ level: 'info', stream: logs }), connection: database.connection, callers: TEST_CALLERS }));
    existing = (await request(server.url, '/tasks', { method: 'POST', body: { title: 'untouched', description: 'as created' } })).json as TaskJson;
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  for (const { name, method, path: target, options, status, field } of cases) {
    it(`${method} ${target.slice(0, 40)}: ${name} → ${status}`, async () => {
      // request() also checks the answer against openapi.json.
      const reply = await request(server.url, target.replace(EXISTING, existing.id), { method, ...options });
      expect(reply.status, reply.text).to.equal(status);
      const body = reply.json as { error: string; details: { field?: string; message: string }[] };
      expect(body.details).to.be.an('array').with.length.greaterThan(0);
      const fields = body.details.map((detail) => detail.field);
      if (field === null) expect(fields.every((named) => named === undefined), reply.text).to.equal(true);
      else expect(fields, reply.text).to.include(field);
    });
  }

  it('left the existing task unchanged and created nothing', async () => {
    expect((await request(server.url, `/tasks/${existing.id}`)).json).to.deep.equal(existing);
    const all = (await request(server.url, '/tasks')).json as { total: number };
    expect(all.total).to.equal(1);
  });

  it('took every one of them for a client mistake: no unexpected error logged, one request line each', () => {
    const lines = logs.lines();
    expect(lines.filter((line) => line.level === 'error'), JSON.stringify(lines.filter((line) => line.level === 'error'))).to.deep.equal([]);
    const answered = lines.filter((line) => line.message === 'request' && typeof line.status === 'number' && line.status >= 400);
    expect(answered).to.have.lengthOf(cases.length);
  });
});
