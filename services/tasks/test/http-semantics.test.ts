// The HTTP rules of docs/api.md § HTTP semantics (RFC 9110, RFC 9112), each sent on a raw socket: the request line
// and its version, Host, framing, CONNECT, case-sensitive paths, Content-Type, nosniff on every answer, and error
// bodies that stay small.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import type { TaskJson } from '../src/task-model.js';
import { AUTHORIZATION, TEST_CALLERS } from './support/callers.js';
import { schemaProblems } from './support/contract.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { exchange, listen, rawRequest, request, type Listening, type Reply } from './support/http.js';
import { silentLogger } from './support/logs.js';
import { tasksTitled } from './support/tasks.js';

/** A POST /tasks head with a JSON body of `body`, and more head lines. */
const postHead = (body: string, ...lines: string[]): string =>
  ['POST /tasks HTTP/1.1', 'Host: t', AUTHORIZATION, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, ...lines].join('\r\n');

describe('HTTP semantics', () => {
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('http');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  const titled = (title: string): Promise<number> => tasksTitled(server.url, title);

  /** `reply` is a JSON error of `status` (naming `field`, when given), sent with nosniff. */
  async function expectError(reply: Reply, status: number, field?: string): Promise<void> {
    expect(reply.status, reply.text).to.equal(status);
    expect(reply.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(reply.headers['x-content-type-options']).to.equal('nosniff');
    expect(await schemaProblems('/components/schemas/Error', reply.json)).to.deep.equal([]);
    if (field !== undefined) expect((reply.json as { details: { field?: string }[] }).details.map((detail) => detail.field)).to.include(field);
  }

  /** Sends `bytes`; expects exactly one answer, then the connection closed by the server. */
  async function onlyAnswer(bytes: string): Promise<Reply> {
    const { answers, closedAfterMs } = await exchange(server.port, bytes);
    expect(answers, JSON.stringify(answers.map((answer) => answer.statusLine))).to.have.lengthOf(1);
    expect(closedAfterMs, 'the server closes the connection').to.not.equal(undefined);
    return answers[0] as Reply;
  }

  describe('the request line (RFC 9112 §2.3, §3; RFC 9110 §6.2)', () => {
    it('serves HTTP/1.1, and HTTP/1.0 without Host', async () => {
      expect((await rawRequest(server.port, 'GET /health HTTP/1.1\r\nHost: t\r\nConnection: close')).status).to.equal(200);
      const old = await onlyAnswer('GET /health HTTP/1.0\r\n\r\n');
      expect(old.status).to.equal(200);
    });

    for (const version of ['HTTP/1.2', 'HTTP/1.9']) {
      it(`serves ${version} as HTTP/1.1, answering HTTP/1.1 (and needing Host, as 1.1 does)`, async () => {
        const served = await onlyAnswer(`GET /health ${version}\r\nHost: t\r\nConnection: close\r\n\r\n`);
        expect(served.status).to.equal(200);
        expect(served.statusLine).to.equal('HTTP/1.1 200 OK');
        await expectError(await onlyAnswer(`GET /health ${version}\r\nConnection: close\r\n\r\n`), 400, 'Host');
      });
    }

    for (const version of ['HTTP/2.0', 'HTTP/3.0', 'HTTP/9.9']) {
      it(`answers ${version} with 505 and closes`, async () => {
        const reply = await onlyAnswer(`GET /health ${version}\r\nHost: t\r\n\r\n`);
        await expectError(reply, 505);
        expect(reply.statusLine).to.match(/^HTTP\/1\.1 505 /);
      });
    }

    for (const [name, line] of [
      ['no version', 'GET /health'],
      ['a two-digit minor version', 'GET /health HTTP/1.10'],
      ['text after the version', 'GET /health HTTP/1.1 x'],
      ['another protocol', 'GET /health FOO/1.1'],
      ['a lower-case protocol name', 'GET /health http/1.1'],
    ]) {
      it(`answers a request line with ${name} with 400 and closes`, async () => {
        await expectError(await onlyAnswer(`${line}\r\nHost: t\r\n\r\n`), 400);
      });
    }

    it('serves HTTP/1.2 on the first request of a connection only: a later one gets 505', async () => {
      const { answers } = await exchange(server.port, 'GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.2\r\nHost: t\r\n\r\n');
      expect(answers.map((answer) => answer.status)).to.deep.equal([200, 505]);
    });
  });

  describe('paths', () => {
    for (const path of ['/TASKS', '/Tasks', '/HEALTH', '/OpenAPI.json']) {
      it(`are case-sensitive: GET ${path} is 404`, async () => {
        await expectError(await request(server.url, path), 404);
      });
    }
  });

  describe('CONNECT (RFC 9110 §9.3.6): never a silent close', () => {
    const paths: [string, string][] = [
      ['/tasks', 'GET, HEAD, POST, OPTIONS'],
      ['/tasks/0123456789abcdef01234567', 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      ['/health', 'GET, HEAD, OPTIONS'],
    ];
    for (const [path, allow] of paths) {
      it(`CONNECT ${path}: 405 with Allow ${allow}, then closed`, async () => {
        const reply = await onlyAnswer(`CONNECT ${path} HTTP/1.1\r\nHost: t\r\n${AUTHORIZATION}\r\n\r\n`);
        await expectError(reply, 405);
        expect(reply.headers.allow).to.equal(allow);
      });
    }

    it('CONNECT on an unknown path: 404, then closed', async () => {
      await expectError(await onlyAnswer(`CONNECT /nope HTTP/1.1\r\nHost: t\r\n${AUTHORIZATION}\r\n\r\n`), 404);
    });

    it('CONNECT example.com:443 (a proxy tunnel): 400, then closed', async () => {
      await expectError(await onlyAnswer('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 400);
    });
  });

  describe('Host (RFC 9112 §3.2)', () => {
    const get = (hostLines: string[]): Promise<Reply> => onlyAnswer(['GET /health HTTP/1.1', ...hostLines, 'Connection: close', '', ''].join('\r\n'));

    it('HTTP/1.1 without Host: 400 naming Host', async () => {
      await expectError(await get([]), 400, 'Host');
    });

    it('two Host lines, even equal: 400 naming Host', async () => {
      await expectError(await get(['Host: a', 'Host: b']), 400, 'Host');
      await expectError(await get(['Host: a', 'Host: a']), 400, 'Host');
    });

    for (const host of ['a b', 'a/b@c', 'a:b:c', '[::1', '::1', 'a:80x', 'a@b', '[not-an-ip]', 'caf\u00e9']) {
      it(`Host ${JSON.stringify(host)}: 400 naming Host`, async () => {
        await expectError(await get([`Host: ${host}`]), 400, 'Host');
      });
    }

    for (const host of ['example.com', 'example.com:8080', '127.0.0.1:80', '[::1]:8080', '[v1.fe80::a]', 'a-b_c~d.%41', 'example.com:', '']) {
      it(`Host ${JSON.stringify(host)}: served`, async () => {
        expect((await get([`Host: ${host}`])).status).to.equal(200);
      });
    }
  });

  describe('framing (RFC 9112 §6)', () => {
    const body = '{"title":"framed"}';
    const chunked = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const withCoding = (codings: string): string =>
      `POST /tasks HTTP/1.1\r\nHost: t\r\n${AUTHORIZATION}\r\nContent-Type: application/json\r\nTransfer-Encoding: ${codings}\r\n\r\n${chunked}`;

    for (const codings of ['xchunked', 'chunked, gzip', 'identity', 'chunked, chunked']) {
      it(`Transfer-Encoding: ${codings}: 400 naming Transfer-Encoding, closed, nothing created`, async () => {
        await expectError(await onlyAnswer(withCoding(codings)), 400, 'Transfer-Encoding');
        expect(await titled('framed')).to.equal(0);
      });
    }

    for (const codings of ['gzip, chunked', 'deflate, chunked']) {
      it(`Transfer-Encoding: ${codings}: 501 naming Transfer-Encoding, closed, nothing created`, async () => {
        await expectError(await onlyAnswer(withCoding(codings)), 501, 'Transfer-Encoding');
        expect(await titled('framed')).to.equal(0);
      });
    }

    const lengths: [string, string[]][] = [
      ['Transfer-Encoding with Content-Length', ['Transfer-Encoding: chunked', `Content-Length: ${Buffer.byteLength(body)}`]],
      ['two Content-Length lines', [`Content-Length: ${Buffer.byteLength(body)}`, `Content-Length: ${Buffer.byteLength(body)}`]],
      ['a list', [`Content-Length: ${Buffer.byteLength(body)}, ${Buffer.byteLength(body)}`]],
      ['a sign', [`Content-Length: +${Buffer.byteLength(body)}`]],
      ['hexadecimal', ['Content-Length: 0x12']],
    ];
    for (const [name, lines] of lengths) {
      it(`${name}: 400, closed, nothing created`, async () => {
        const head = ['POST /tasks HTTP/1.1', 'Host: t', AUTHORIZATION, 'Content-Type: application/json', ...lines].join('\r\n');
        await expectError(await onlyAnswer(`${head}\r\n\r\n${body}`), 400);
        expect(await titled('framed')).to.equal(0);
      });
    }

    it('Content-Length: 99999999999 and no body: 413 at once, closed', async () => {
      const { answers, closedAfterMs } = await exchange(server.port, `${postHead('').replace('Content-Length: 0', 'Content-Length: 99999999999')}\r\n\r\n`);
      expect(answers).to.have.lengthOf(1);
      await expectError(answers[0] as Reply, 413);
      // Not a speed figure: it comes without waiting for any body byte, long before any of the server's timeouts.
      expect(closedAfterMs).to.be.below(2000);
    });
  });

  describe('Connection: close (RFC 9112 §9.6): the bytes after the request are discarded unread', () => {
    const second = `${postHead('{"title":"second"}')}\r\n\r\n{"title":"second"}`;

    it('POST /tasks with Connection: close, then another POST in the same write: one answer, 201, one task', async () => {
      const first = `${postHead('{"title":"closing first"}', 'Connection: close')}\r\n\r\n{"title":"closing first"}`;
      const reply = await onlyAnswer(first + second);
      expect(reply.status, reply.text).to.equal(201);
      expect(await titled('closing first')).to.equal(1);
      expect(await titled('second')).to.equal(0);
    });

    it('POST /tasks with Connection: close, then garbage: 201, one task', async () => {
      const first = `${postHead('{"title":"then garbage"}', 'Connection: close')}\r\n\r\n{"title":"then garbage"}`;
      const reply = await onlyAnswer(`${first}GARBAGE\r\n\r\n`);
      expect(reply.status, reply.text).to.equal(201);
      expect(await titled('then garbage')).to.equal(1);
    });

    it('HTTP/1.0 POST (no keep-alive), then more: 201, one task', async () => {
      const first = `${postHead('{"title":"old client"}').replace('HTTP/1.1', 'HTTP/1.0')}\r\n\r\n{"title":"old client"}`;
      const reply = await onlyAnswer(`${first}${second}`);
      expect(reply.status, reply.text).to.equal(201);
      expect(await titled('old client')).to.equal(1);
      expect(await titled('second')).to.equal(0);
    });

    it('GET /health with Connection: close, then garbage: 200 only', async () => {
      expect((await onlyAnswer('GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGARBAGE\r\n\r\n')).status).to.equal(200);
    });

    it('a refused request closes its connection too: what follows it is not served', async () => {
      const refused = 'GET /health HTTP/1.1\r\nHost: a b\r\n\r\n';
      const reply = await onlyAnswer(refused + second);
      await expectError(reply, 400, 'Host');
      expect(await titled('second')).to.equal(0);
    });
  });

  describe('Content-Type (RFC 9110 §8.3)', () => {
    for (const type of ['application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json ; charset="utf-8"']) {
      it(`accepts ${type}`, async () => {
        const reply = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': type }, body: '{"title":"typed"}' });
        expect(reply.status, reply.text).to.equal(201);
      });
    }

    it('two Content-Type lines: 400 naming Content-Type, nothing created', async () => {
      const body = '{"title":"two types"}';
      const head = ['POST /tasks HTTP/1.1', 'Host: t', AUTHORIZATION, 'Content-Type: application/json', 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close'];
      await expectError(await rawRequest(server.port, head.join('\r\n'), body), 400, 'Content-Type');
      expect(await titled('two types')).to.equal(0);
    });
  });

  describe('X-Content-Type-Options: nosniff on every answer', () => {
    it('on answers of the app, of every kind', async () => {
      const task = (await request(server.url, '/tasks', { method: 'POST', body: { title: 'sniffed' } })).json as TaskJson;
      const replies = [
        await request(server.url, '/health'),
        await request(server.url, '/openapi.json'),
        await request(server.url, `/tasks/${task.id}`, { method: 'HEAD' }),
        await request(server.url, '/tasks', { method: 'OPTIONS' }),
        await request(server.url, '/tasks', { method: 'PUT' }),
        await request(server.url, '/nope'),
        await request(server.url, '/tasks?limit=0'),
        await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
        await request(server.url, `/tasks/${task.id}`, { method: 'DELETE' }),
      ];
      expect(replies.map((reply) => reply.status)).to.deep.equal([200, 200, 200, 204, 405, 404, 400, 415, 204]);
      for (const reply of replies) expect(reply.headers['x-content-type-options'], String(reply.status)).to.equal('nosniff');
    });

    it('on answers of the server itself: 400 not HTTP, 408 (below), 414 and 431 past what Node reads, 417', async () => {
      const replies = [
        await rawRequest(server.port, 'HELLO THERE', '', { contract: false }),
        await rawRequest(server.port, `GET /${'a'.repeat(40_000)} HTTP/1.1\r\nHost: t`, '', { contract: false }),
        await rawRequest(server.port, `GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(40_000)}`, '', { contract: false }),
        await rawRequest(server.port, 'GET /health HTTP/1.1\r\nHost: t\r\nExpect: a-pony\r\nConnection: close', '', { contract: false }),
      ];
      expect(replies.map((reply) => reply.status)).to.deep.equal([400, 414, 431, 417]);
      for (const reply of replies) await expectError(reply, reply.status);
    });
  });

  describe('error bodies are bounded (docs/api.md §Errors)', () => {
    it('6000 unknown fields in a 59 KB body: 20 details and details_omitted, an answer far smaller than the request', async () => {
      const fields = Object.fromEntries(Array.from({ length: 6000 }, (_, n) => [`k${n}`, 1]));
      const body = JSON.stringify({ title: 'bounded', ...fields });
      expect(Buffer.byteLength(body)).to.be.within(55_000, 65_536);
      const reply = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await expectError(reply, 400);
      const error = reply.json as { details: { field: string }[]; details_omitted: number };
      expect(error.details).to.have.lengthOf(20);
      expect(error.details.map((detail) => detail.field)).to.deep.equal(Array.from({ length: 20 }, (_, n) => `k${n}`));
      expect(error.details_omitted).to.equal(5980);
      expect(Buffer.byteLength(reply.text)).to.be.below(2000);
    });

    it('20 problems or fewer: no details_omitted', async () => {
      const fields = Object.fromEntries(Array.from({ length: 20 }, (_, n) => [`k${n}`, 1]));
      const reply = await request(server.url, '/tasks', { method: 'POST', body: { title: 't', ...fields } });
      expect(reply.json).to.have.all.keys('error', 'details');
      expect((reply.json as { details: unknown[] }).details).to.have.lengthOf(20);
    });
  });
});
