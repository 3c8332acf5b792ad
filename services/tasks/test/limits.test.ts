// Every documented limit, at its edge: a value exactly at the limit is accepted, one more is refused. Text limits
// count code points, so each is also tried with characters outside the Basic Multilingual Plane (two UTF-16 units).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createApp } from '../src/app.js';
import { HEAD_SIZE_CAP } from '../src/http-server.js';
import { BODY_MAX_BYTES, HEADER_COUNT_MAX, HEADER_MAX_BYTES, HEADERS_MAX_BYTES, REQUEST_TARGET_MAX_BYTES } from '../src/limits.js';
import { DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, type TaskJson } from '../src/task-model.js';
import { LIST_LIMIT_MAX, LIST_OFFSET_MAX, SEARCH_MAX_LENGTH } from '../src/validation.js';
import { TEST_CALLERS } from './support/callers.js';
import { schemaProblems } from './support/contract.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { silentLogger } from './support/logs.js';
import { listen, rawRequest, request, type Listening, type Reply } from './support/http.js';

const EMOJI = '😀'; // U+1F600: one character, two UTF-16 units, four UTF-8 bytes

// The limits as docs/api.md (and docs/tasks.md, for what Node reads) state them, written out here: a test of a limit
// must not move when the code's constant does.
const DOCUMENTED = {
  title: 200,
  description: 2000,
  q: 200,
  limit: 100,
  offset: 100_000,
  bodyBytes: 65_536,
  targetBytes: 4096,
  headersBytes: 16_384,
  headerBytes: 8192,
  headerFields: 100,
  /** What Node itself reads of a request's head (docs/tasks.md). */
  headCapBytes: 32_768,
};

describe('limits: the documented numbers', () => {
  it('are the ones docs/api.md and docs/tasks.md state', () => {
    const api = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8').replaceAll('\n', ' ');
    const tasks = readFileSync(new URL('../../../../docs/tasks.md', import.meta.url), 'utf8').replaceAll('\n', ' ');
    const d = DOCUMENTED;
    for (const phrase of [
      `then 1 to ${d.title} characters`,
      `0 to ${d.description} characters`,
      `\`q\` (1 to ${d.q} characters)`,
      `integer, 1 to ${d.limit}`,
      `integer, 0 to ${d.offset}`,
      `64 KiB (${d.bodyBytes} bytes)`,
      `over ${d.targetBytes} bytes`,
      `request headers over 16 KiB (${d.headersBytes} bytes) in all, one header over 8 KiB (${d.headerBytes} bytes), or more than ${d.headerFields} header fields`,
    ]) {
      expect(api, phrase).to.include(phrase);
    }
    expect(tasks).to.include(`32 KiB (${d.headCapBytes} bytes)`);
  });

  it('are the ones the code enforces', () => {
    const d = DOCUMENTED;
    expect([TITLE_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, SEARCH_MAX_LENGTH]).to.deep.equal([d.title, d.description, d.q]);
    expect([LIST_LIMIT_MAX, LIST_OFFSET_MAX]).to.deep.equal([d.limit, d.offset]);
    expect([BODY_MAX_BYTES, REQUEST_TARGET_MAX_BYTES, HEADERS_MAX_BYTES, HEADER_MAX_BYTES, HEADER_COUNT_MAX, HEAD_SIZE_CAP]).to.deep.equal([
      d.bodyBytes,
      d.targetBytes,
      d.headersBytes,
      d.headerBytes,
      d.headerFields,
      d.headCapBytes,
    ]);
  });
});

describe('limits: at the edge', () => {
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('limits');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  const post = (body: unknown): Promise<Reply> => request(server.url, '/tasks', { method: 'POST', body });
  const field = (reply: Reply): unknown => (reply.json as { details: { field?: string }[] }).details.map((detail) => detail.field);

  describe('text fields, in characters (code points)', () => {
    const texts: [string, string][] = [
      ['ASCII', 'x'],
      ['outside the BMP', EMOJI],
    ];
    for (const [kind, char] of texts) {
      it(`title, ${kind}: ${DOCUMENTED.title} accepted (also after trimming, and by PATCH), ${DOCUMENTED.title + 1} refused`, async () => {
        const atLimit = char.repeat(DOCUMENTED.title);
        const created = await post({ title: atLimit });
        expect(created.status, created.text).to.equal(201);
        expect((created.json as TaskJson).title).to.equal(atLimit);
        const trimmed = await post({ title: `  ${atLimit}\n` });
        expect(trimmed.status, trimmed.text).to.equal(201);
        expect((trimmed.json as TaskJson).title).to.equal(atLimit);
        expect((await post({ title: char })).status).to.equal(201);

        const over = await post({ title: char.repeat(DOCUMENTED.title + 1) });
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['title']);

        const id = (created.json as TaskJson).id;
        const patched = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { title: char.repeat(DOCUMENTED.title) } });
        expect(patched.status, patched.text).to.equal(200);
        const patchedOver = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { title: char.repeat(DOCUMENTED.title + 1) } });
        expect(patchedOver.status).to.equal(400);
      });

      it(`description, ${kind}: ${DOCUMENTED.description} accepted (also by PATCH), ${DOCUMENTED.description + 1} refused`, async () => {
        const atLimit = char.repeat(DOCUMENTED.description);
        const created = await post({ title: 't', description: atLimit });
        expect(created.status, created.text).to.equal(201);
        expect((created.json as TaskJson).description).to.equal(atLimit);
        const over = await post({ title: 't', description: char.repeat(DOCUMENTED.description + 1) });
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['description']);

        const id = (created.json as TaskJson).id;
        const patched = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { description: `${atLimit.slice(char.length)}${char}` } });
        expect(patched.status, patched.text).to.equal(200);
        const patchedOver = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { description: `${atLimit}${char}` } });
        expect(patchedOver.status).to.equal(400);
      });

      it(`q, ${kind}: ${DOCUMENTED.q} accepted, ${DOCUMENTED.q + 1} refused`, async () => {
        const search = (text: string): Promise<Reply> => request(server.url, `/tasks?q=${encodeURIComponent(text)}`);
        const atLimit = await search(char.repeat(DOCUMENTED.q));
        expect(atLimit.status, atLimit.text).to.equal(200);
        // The title of exactly that text, created above, is found.
        expect((atLimit.json as { items: TaskJson[] }).items.map((task) => task.title)).to.include(char.repeat(DOCUMENTED.title));
        expect((await search(char)).status).to.equal(200);
        const over = await search(char.repeat(DOCUMENTED.q + 1));
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['q']);
      });
    }
  });

  it(`limit: 1 and ${DOCUMENTED.limit} accepted, 0 and ${DOCUMENTED.limit + 1} refused`, async () => {
    for (const limit of [1, DOCUMENTED.limit]) expect((await request(server.url, `/tasks?limit=${limit}`)).json).to.include({ limit });
    for (const limit of [0, DOCUMENTED.limit + 1]) expect(field(await request(server.url, `/tasks?limit=${limit}`))).to.deep.equal(['limit']);
  });

  it(`offset: 0 and ${DOCUMENTED.offset} accepted, -1 and ${DOCUMENTED.offset + 1} refused`, async () => {
    for (const offset of [0, DOCUMENTED.offset]) expect((await request(server.url, `/tasks?offset=${offset}`)).json).to.include({ offset });
    for (const offset of [-1, DOCUMENTED.offset + 1]) expect(field(await request(server.url, `/tasks?offset=${offset}`))).to.deep.equal(['offset']);
  });

  describe(`body: ${DOCUMENTED.bodyBytes} bytes accepted, one more refused with 413, read whole or not at all`, () => {
    /** A valid create body of exactly `bytes` bytes: JSON with whitespace before its closing brace. */
    const bodyOf = (title: string, bytes: number): string => {
      const json = JSON.stringify({ title });
      return `${json.slice(0, -1)}${' '.repeat(bytes - Buffer.byteLength(json))}}`;
    };
    const count = async (title: string): Promise<number> =>
      ((await request(server.url, `/tasks?q=${encodeURIComponent(title)}`)).json as { total: number }).total;

    for (const chunked of [false, true]) {
      const how = chunked ? 'chunked' : 'with Content-Length';
      it(how, async () => {
        const title = `body limit ${how}`;
        const atLimit = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(title, DOCUMENTED.bodyBytes), chunked });
        expect(atLimit.status, atLimit.text).to.equal(201);
        for (const size of [DOCUMENTED.bodyBytes + 1, 200 * 1024, 1024 * 1024]) {
          const over = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(`${title} over`, size), chunked });
          expect(over.status, `${size} bytes`).to.equal(413);
        }
        expect(await count(title)).to.equal(1);
      });
    }
  });

  describe(`request target: ${DOCUMENTED.targetBytes} bytes accepted, one more refused with 414`, () => {
    // An unknown path of that length: 404 shows the target passed the limit.
    const target = (bytes: number): string => `/${'a'.repeat(bytes - 1)}`;

    it('in the path', async () => {
      expect((await request(server.url, target(DOCUMENTED.targetBytes))).status).to.equal(404);
      expect((await request(server.url, target(DOCUMENTED.targetBytes + 1))).status).to.equal(414);
    });

    it('in the query, on a real route', async () => {
      const query = (bytes: number): string => `/tasks?q=${'b'.repeat(bytes - '/tasks?q='.length)}`;
      // Too long a q for the route (400), but not too long a target; one byte more is.
      expect((await request(server.url, query(DOCUMENTED.targetBytes))).status).to.equal(400);
      expect((await request(server.url, query(DOCUMENTED.targetBytes + 1))).status).to.equal(414);
    });

    it('even past what Node itself reads (answered by the server, not the app)', async () => {
      const reply = await rawRequest(server.port, `GET ${target(DOCUMENTED.headCapBytes + 1)} HTTP/1.1\r\nHost: t\r\nConnection: close`);
      expect(reply.status).to.equal(414);
    });
  });

  describe(`headers: ${DOCUMENTED.headersBytes} bytes in all and ${DOCUMENTED.headerBytes} each accepted, one more refused with 431`, () => {
    // Sizes as on the wire: `name: value` and its CRLF.
    const lineBytes = (name: string, value: string): number => name.length + value.length + 4;
    const fixed: [string, string][] = [
      ['Host', 't'],
      ['Connection', 'close'],
    ];
    const fixedBytes = fixed.reduce((sum, [name, value]) => sum + lineBytes(name, value), 0);
    /** GET /health with the fixed headers and X-Pad-N headers, each line at most `each` bytes, `total` in all. */
    const withHeaders = (total: number, each: number): Promise<Reply> => {
      const lines = fixed.map(([name, value]) => `${name}: ${value}`);
      let left = total - fixedBytes;
      for (let n = 1; left > 0; n++) {
        const name = `X-Pad-${n}`;
        const size = Math.min(each, left);
        lines.push(`${name}: ${'p'.repeat(size - lineBytes(name, ''))}`);
        left -= size;
      }
      return rawRequest(server.port, `GET /health HTTP/1.1\r\n${lines.join('\r\n')}`);
    };

    it('one header', async () => {
      expect((await withHeaders(fixedBytes + DOCUMENTED.headerBytes, DOCUMENTED.headerBytes)).status).to.equal(200);
      expect((await withHeaders(fixedBytes + DOCUMENTED.headerBytes + 1, DOCUMENTED.headerBytes + 1)).status).to.equal(431);
    });

    it('all headers', async () => {
      expect((await withHeaders(DOCUMENTED.headersBytes, 4000)).status).to.equal(200);
      expect((await withHeaders(DOCUMENTED.headersBytes + 1, 4000)).status).to.equal(431);
    });

    it(`${DOCUMENTED.headerFields} header fields, one more refused`, async () => {
      const fields = (count: number) =>
        rawRequest(
          server.port,
          [
            'GET /health HTTP/1.1',
            ...fixed.map(([name, value]) => `${name}: ${value}`),
            ...Array.from({ length: count - fixed.length }, (_, n) => `X-F${n}: f`),
          ].join('\r\n'),
        );
      expect((await fields(DOCUMENTED.headerFields)).status).to.equal(200);
      expect((await fields(DOCUMENTED.headerFields + 1)).status).to.equal(431);
    });

    it('even past what Node itself reads (answered by the server, not the app)', async () => {
      expect((await withHeaders(DOCUMENTED.headCapBytes + 1, 4000)).status).to.equal(431);
    });
  });

  describe('requests Node itself would answer without a JSON body', () => {
    const isError = async (reply: Reply): Promise<void> => {
      expect(reply.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(await schemaProblems('/components/schemas/Error', reply.json)).to.deep.equal([]);
    };

    it('HTTP/1.1 without Host: 400', async () => {
      const reply = await rawRequest(server.port, 'GET /health HTTP/1.1\r\nConnection: close');
      expect(reply.status).to.equal(400);
      expect(reply.json).to.deep.include({ error: 'invalid Host header' });
    });

    it('not HTTP at all: 400', async () => {
      const reply = await rawRequest(server.port, 'HELLO THERE', '', { contract: false });
      expect(reply.status).to.equal(400);
      await isError(reply);
    });

    it('an Expect other than 100-continue: 417', async () => {
      const reply = await rawRequest(server.port, 'GET /health HTTP/1.1\r\nHost: t\r\nExpect: a-pony\r\nConnection: close', '', { contract: false });
      expect(reply.status).to.equal(417);
      await isError(reply);
    });
  });
});
