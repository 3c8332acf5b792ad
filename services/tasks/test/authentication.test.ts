// Caller authentication against the real app, database and log shipping (docs/api.md § Authentication): a missing,
// malformed or unknown key on every protected operation and on paths that are no route; rotation and revocation; a
// reader that writes; the public routes; which answers come before the key is checked; and each request's caller on
// its log line, on stdout and in what reached the Logsene receiver, where no key material ever appears.
import { expect } from 'chai';
import type winston from 'winston';
import { createApp } from '../src/app.js';
import { Callers } from '../src/callers.js';
import { createLogger, flushLogs } from '../src/logger.js';
import type { TaskJson } from '../src/task-model.js';
import { startBulkReceiver, type BulkReceiver } from './support/bulk-receiver.js';
import { AUTHORIZATION, callersFile, keyMaterialIn, newKey, READER, TEST_CALLERS, UNKNOWN_KEY, WRITER, WRITER_KEY } from './support/callers.js';
import { openapi } from './support/contract.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { exchange, listen, rawRequest, request, type Listening, type Reply, type RequestOptions } from './support/http.js';
import { MemoryStream } from './support/logs.js';

const CHALLENGE = 'Bearer realm="tasks"';
const MISSING = { challenge: CHALLENGE, message: 'a key is required: Authorization: Bearer <key>' };
const MALFORMED = { challenge: `${CHALLENGE}, error="invalid_request"`, message: 'must be Bearer <key>' };
const UNKNOWN = { challenge: `${CHALLENGE}, error="invalid_token"`, message: 'is not a known key' };
const TASK_ID = '{id}';

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** Every operation openapi.json protects (all but those with `security: []`), and HEAD with each GET. */
const protectedOperations: Call[] = Object.entries(openapi.paths).flatMap(([path, item]) =>
  Object.entries(item as Record<string, { security?: unknown[] } | undefined>)
    .filter(([method, operation]) => method !== 'parameters' && operation?.security === undefined)
    .flatMap(([method]) => {
      const body = method === 'post' || method === 'patch' ? { title: 'sent without a valid key' } : undefined;
      const call = { method: method.toUpperCase(), path: path.replace('{id}', TASK_ID), body };
      return method === 'get' ? [call, { ...call, method: 'HEAD' }] : [call];
    }),
);

/** Requests that reach no operation: without a key they are refused as the operations are, revealing nothing. */
const noRoutes: Call[] = [
  { method: 'GET', path: '/nope' },
  { method: 'GET', path: '/tasks/' },
  { method: 'GET', path: '/TASKS' },
  { method: 'GET', path: '/health/' },
  { method: 'GET', path: '/tasks/not-an-id' },
  { method: 'PUT', path: '/tasks', body: { title: 'x' } },
  { method: 'POST', path: '/health', body: { title: 'x' } },
  { method: 'DELETE', path: '/openapi.json' },
];

/** Authorization values that are not `Bearer <key>`: each a 401 invalid_request. */
const malformedValues: [string, string][] = [
  ['another scheme', `Basic ${Buffer.from('ci:secret').toString('base64')}`],
  ['the key alone', WRITER_KEY],
  ['the scheme alone', 'Bearer'],
  ['an empty value', ''],
  ['two spaces', `Bearer  ${WRITER_KEY}`],
  ['a tab', `Bearer\t${WRITER_KEY}`],
  ['a key one character short', `Bearer ${WRITER_KEY.slice(0, -1)}`],
  ['a key one character long', `Bearer ${WRITER_KEY}A`],
  ['a key with another prefix', `Bearer MSK_${WRITER_KEY.slice(4)}`],
  ['a key in base64 rather than base64url', `Bearer msk_+${WRITER_KEY.slice(5)}`],
  ['a padded key', `Bearer ${WRITER_KEY.slice(0, -1)}=`],
  ['a quoted key', `Bearer "${WRITER_KEY}"`],
];

describe('authentication', () => {
  let database: TestDatabase;
  let receiver: BulkReceiver;
  let logger: winston.Logger;
  const stdout = new MemoryStream();
  let server: Listening;
  let task: TaskJson;

  before(async () => {
    database = await openTestDatabase('authentication');
    receiver = await startBulkReceiver();
    logger = createLogger({ level: 'info', logseneToken: 'authentication-test', logseneUrl: receiver.url, stream: stdout });
    server = await listen(createApp({ logger, connection: database.connection, callers: TEST_CALLERS }));
    task = (await request(server.url, '/tasks', { method: 'POST', body: { title: 'guarded', description: 'as created' } })).json as TaskJson;
  });

  after(async () => {
    await server.close();
    await receiver.close();
    await database.drop();
  });

  const send = (call: Call, options: RequestOptions): Promise<Reply> =>
    request(server.url, call.path.replace(TASK_ID, task.id), { method: call.method, body: call.body, ...options });

  /** `reply` is the 401 of `expected`; request() has already checked it against openapi.json. */
  function expectUnauthorized(reply: Reply, expected: { challenge: string; message: string }, what: string): void {
    expect(reply.status, `${what}: ${reply.text}`).to.equal(401);
    expect(reply.headers['www-authenticate'], what).to.equal(expected.challenge);
    if (reply.text === '') return; // HEAD
    expect(reply.json, what).to.deep.equal({ error: 'unauthorized', details: [{ field: 'Authorization', message: expected.message }] });
  }

  async function expectNothingChanged(): Promise<void> {
    expect((await request(server.url, `/tasks/${task.id}`)).json).to.deep.equal(task);
    expect((await request(server.url, '/tasks')).json).to.have.property('total', 1);
  }

  it('knows every protected operation of openapi.json, and only those', () => {
    expect(protectedOperations.map(({ method, path }) => `${method} ${path}`)).to.have.members([
      'GET /tasks', 'HEAD /tasks', 'POST /tasks', 'OPTIONS /tasks',
      'GET /tasks/{id}', 'HEAD /tasks/{id}', 'PATCH /tasks/{id}', 'DELETE /tasks/{id}', 'OPTIONS /tasks/{id}',
    ]);
  });

  for (const call of [...protectedOperations, ...noRoutes]) {
    describe(`${call.method} ${call.path}`, () => {
      it('without Authorization: 401 with the bare challenge', async () => {
        expectUnauthorized(await send(call, { key: null }), MISSING, 'no header');
      });

      it('with an Authorization that is not Bearer <key>: 401 invalid_request', async () => {
        for (const [name, value] of malformedValues) {
          expectUnauthorized(await send(call, { key: null, headers: { Authorization: value } }), MALFORMED, name);
        }
      });

      it('with two Authorization lines, even two good keys: 401 invalid_request', async () => {
        const target = call.path.replace(TASK_ID, task.id);
        const body = call.body === undefined ? '' : JSON.stringify(call.body);
        const head = [`${call.method} ${target} HTTP/1.1`, 'Host: t', AUTHORIZATION, AUTHORIZATION, 'Connection: close'];
        if (body !== '') head.push('Content-Type: application/json', `Content-Length: ${body.length}`);
        expectUnauthorized(await rawRequest(server.port, head.join('\r\n'), body), MALFORMED, 'two lines');
      });

      it('with a well-formed key no caller has: 401 invalid_token', async () => {
        expectUnauthorized(await send(call, { key: UNKNOWN_KEY }), UNKNOWN, 'unknown key');
      });
    });
  }

  describe('after all of those', () => {
    it('nothing changed', expectNothingChanged);
  });

  it('takes the scheme in any case, and either of a caller\'s two keys (a rotation)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await request(server.url, '/tasks', { headers: { Authorization: `${scheme} ${WRITER_KEY}` } })).status, scheme).to.equal(200);
    }
    for (const key of WRITER.keys) {
      const created = await request(server.url, '/tasks', { method: 'POST', key, body: { title: 'rotating' } });
      expect(created.status).to.equal(201);
      expect((await request(server.url, `/tasks/${(created.json as TaskJson).id}`, { method: 'DELETE', key })).status).to.equal(204);
    }
  });

  it('refuses a revoked key (401 invalid_token) once the callers without it are the service\'s, and takes the other', async () => {
    const [revoked = '', kept = ''] = WRITER.keys;
    const rotated = Callers.parse(callersFile([{ ...WRITER, keys: [kept] }]));
    const after = await listen(createApp({ logger, connection: database.connection, callers: rotated }));
    try {
      expectUnauthorized(await request(after.url, '/tasks', { key: revoked }), UNKNOWN, 'the revoked key');
      expect((await request(after.url, '/tasks', { key: kept })).status).to.equal(200);
    } finally {
      await after.close();
    }
  });

  it('a 401 leaves a connection open when the request has no body, and closes it, the body unread, when it has one', async () => {
    const get = 'GET /tasks HTTP/1.1\r\nHost: t\r\n\r\n';
    const kept = await exchange(server.port, `${get}${get}`, 1000);
    expect(kept.answers.map((reply) => reply.status)).to.deep.equal([401, 401]);
    expect(kept.closedAfterMs).to.equal(undefined);
    const post = `POST /tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
    const closed = await exchange(server.port, `${post}${get}`);
    expect(closed.answers.map((reply) => [reply.status, reply.headers.connection])).to.deep.equal([[401, 'close']]);
    expect(closed.closedAfterMs).to.be.a('number');
  });

  describe('a caller that may only read', () => {
    const readerKey = READER.keys[0] ?? '';
    const forbidden = { error: 'forbidden', details: [{ message: 'caller requests may only read' }] };

    it('reads: GET, HEAD and OPTIONS of both paths', async () => {
      for (const call of protectedOperations.filter(({ method }) => ['GET', 'HEAD', 'OPTIONS'].includes(method))) {
        const reply = await send(call, { key: readerKey });
        expect(reply.status, `${call.method} ${call.path}`).to.equal(call.method === 'OPTIONS' ? 204 : 200);
      }
    });

    it('gets 403 for every write, before the request is validated or routed, and changes nothing', async () => {
      const writes: [Call, RequestOptions][] = [
        ...protectedOperations.filter(({ method }) => !['GET', 'HEAD', 'OPTIONS'].includes(method)).map((call): [Call, RequestOptions] => [call, {}]),
        [{ method: 'POST', path: '/tasks', body: '{not json' }, { headers: { 'Content-Type': 'text/plain' } }],
        [{ method: 'PATCH', path: `/tasks/${TASK_ID}`, body: { nonsense: true } }, {}],
        [{ method: 'DELETE', path: '/tasks/not-an-id' }, {}],
        [{ method: 'PUT', path: '/tasks', body: { title: 'x' } }, {}],
        [{ method: 'POST', path: '/nope', body: { title: 'x' } }, {}],
        [{ method: 'POST', path: '/health', body: { title: 'x' } }, {}],
      ];
      for (const [call, options] of writes) {
        const reply = await send(call, { ...options, key: readerKey });
        expect(reply.status, `${call.method} ${call.path}: ${reply.text}`).to.equal(403);
        expect(reply.json).to.deep.equal(forbidden);
        expect(reply.headers['www-authenticate']).to.equal(undefined);
      }
      await expectNothingChanged();
    });
  });

  describe('the public routes', () => {
    const publicCalls: [string, string, number][] = [
      ['GET', '/health', 200], ['HEAD', '/health', 200], ['OPTIONS', '/health', 204],
      ['GET', '/openapi.json', 200], ['HEAD', '/openapi.json', 200], ['OPTIONS', '/openapi.json', 204],
    ];
    const authorizations: [string, RequestOptions][] = [
      ['no key', { key: null }],
      ['a malformed key', { key: null, headers: { Authorization: 'Basic Y2k6c2VjcmV0' } }],
      ['an unknown key', { key: UNKNOWN_KEY }],
      ['a reader\'s key', { key: READER.keys[0] ?? '' }],
      ['a writer\'s key', {}],
    ];
    for (const [method, path, status] of publicCalls) {
      it(`${method} ${path} answers ${status} whatever the key, which it does not check`, async () => {
        for (const [name, options] of authorizations) {
          expect((await request(server.url, path, { method, ...options })).status, name).to.equal(status);
        }
      });
    }
  });

  describe('which answer comes first', () => {
    it('without a key, a path that is no route or a method it does not serve gets 401; with one, 404 or 405', async () => {
      const cases: [Call, number][] = [
        [{ method: 'GET', path: '/nope' }, 404],
        [{ method: 'GET', path: '/tasks/' }, 404],
        [{ method: 'GET', path: '/TASKS' }, 404],
        [{ method: 'GET', path: '/tasks/0123456789abcdef01234567' }, 404],
        [{ method: 'PUT', path: '/tasks', body: { title: 'x' } }, 405],
        [{ method: 'POST', path: '/health', body: { title: 'x' } }, 405],
      ];
      for (const [call, withKey] of cases) {
        expect((await send(call, { key: null })).status, `${call.method} ${call.path} without a key`).to.equal(401);
        expect((await send(call, {})).status, `${call.method} ${call.path} with a key`).to.equal(withKey);
      }
    });

    it('without a key, the HTTP-level refusals come first: framing, 413, 414, 431, Host, versions', async () => {
      const post = (lines: string[]): string => ['POST /tasks HTTP/1.1', 'Host: t', 'Content-Type: application/json', ...lines].join('\r\n');
      const only = async (bytes: string): Promise<Reply> => {
        const { answers } = await exchange(server.port, bytes);
        expect(answers, bytes.slice(0, 80)).to.have.lengthOf(1);
        return answers[0] as Reply;
      };
      expect((await only(`${post(['Content-Length: 99999999999'])}\r\n\r\n`)).status).to.equal(413);
      expect((await only(`${post(['Transfer-Encoding: gzip, chunked'])}\r\n\r\n0\r\n\r\n`)).status).to.equal(501);
      expect((await only(`${post(['Transfer-Encoding: chunked', 'Content-Length: 2'])}\r\n\r\n{}`)).status).to.equal(400);
      expect((await only('GET /tasks HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).status).to.equal(400);
      expect((await only('GET /tasks HTTP/2.0\r\nHost: t\r\n\r\n')).status).to.equal(505);
      const longTarget = `/tasks?q=${'x'.repeat(4096)}`;
      expect((await rawRequest(server.port, `GET ${longTarget} HTTP/1.1\r\nHost: t\r\nConnection: close`)).status).to.equal(414);
      const bigHeader = `X-Big: ${'b'.repeat(8192)}`;
      expect((await rawRequest(server.port, `GET /tasks HTTP/1.1\r\nHost: t\r\n${bigHeader}\r\nConnection: close`)).status).to.equal(431);
    });
  });

  describe('the log line of each request', () => {
    let lines: Record<string, unknown>[];
    let shipped: Record<string, unknown>[];

    before(async () => {
      await request(server.url, '/tasks?limit=1', { key: WRITER.keys[1] ?? '' });
      await request(server.url, `/tasks/${task.id}`, { key: READER.keys[0] ?? '' });
      await request(server.url, `/tasks/${task.id}`, { method: 'DELETE', key: READER.keys[0] ?? '' });
      await request(server.url, '/health');
      await request(server.url, '/openapi.json');
      await request(server.url, '/tasks?limit=2', { key: UNKNOWN_KEY });
      await flushLogs(logger, 5000);
      lines = stdout.lines().filter((line) => line.message === 'request');
      shipped = receiver.entries.map((entry) => entry.document).filter((document) => document.message === 'request');
    });

    it('carries the caller: its id for a valid key (a 403 too), null for no valid key and on public routes', () => {
      const callerOf = (method: string, path: string, status: number): unknown[] =>
        lines.filter((line) => line.method === method && line.path === path && line.status === status).map((line) => line.caller);
      expect(callerOf('GET', '/tasks', 200)).to.include(WRITER.id);
      expect(callerOf('GET', `/tasks/${task.id}`, 200)).to.include(READER.id);
      expect(callerOf('DELETE', `/tasks/${task.id}`, 403)).to.include(READER.id);
      expect(new Set(callerOf('GET', '/health', 200))).to.deep.equal(new Set([null]));
      expect(new Set(callerOf('GET', '/openapi.json', 200))).to.deep.equal(new Set([null]));
      expect(new Set(lines.filter((line) => line.status === 401).map((line) => line.caller))).to.deep.equal(new Set([null]));
      expect(lines.every((line) => 'caller' in line), 'every request line has a caller').to.equal(true);
    });

    it('reached Logsene as it went to stdout, the caller included', () => {
      const summary = (line: Record<string, unknown>): string => `${String(line.method)} ${String(line.path)} ${String(line.status)} ${String(line.caller)}`;
      expect(shipped.map(summary)).to.have.members(lines.map(summary));
      expect(shipped.filter((document) => document.status === 401)).to.have.length.of.at.least(protectedOperations.length);
    });

    it('holds no key, no part of one, no digest, and no Authorization header, on stdout or in Logsene', () => {
      const everything = JSON.stringify(stdout.lines()) + JSON.stringify(receiver.entries);
      expect(keyMaterialIn(everything)).to.deep.equal([]);
      expect(everything.toLowerCase()).not.to.include('authorization');
      expect(everything.toLowerCase()).not.to.include('bearer');
    });
  });

  it('finds a key, a part of one and a digest where they are: the search for key material bites', () => {
    const key = READER.keys[0] ?? '';
    expect(keyMaterialIn(`x${key}y`)).not.to.deep.equal([]);
    expect(keyMaterialIn(`a fragment: ${key.slice(20, 32)}`)).not.to.deep.equal([]);
    expect(keyMaterialIn('no key here')).to.deep.equal([]);
    expect(keyMaterialIn(callersFile([READER]))).not.to.deep.equal([]);
    expect(keyMaterialIn(`an unrelated key: ${newKey()}`)).to.deep.equal([]);
  });
});
