// Every documented limit, at its edge: a value exactly at the limit is accepted, one more is refused. Text limits
// count code points, so each is also tried with characters outside the Basic Multilingual Plane (two UTF-16 units).
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import { HEAD_SIZE_CAP } from '../src/http-server.js';
import { BODY_MAX_BYTES, HEADER_COUNT_MAX, HEADER_MAX_BYTES, HEADERS_MAX_BYTES, REQUEST_TARGET_MAX_BYTES } from '../src/limits.js';
import { DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, type TaskJson } from '../src/task-model.js';
import { LIST_LIMIT_MAX, LIST_OFFSET_MAX, SEARCH_MAX_LENGTH } from '../src/validation.js';
import { schemaProblems } from './support/contract.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { silentLogger } from './support/logs.js';
import { listen, rawRequest, request, type Listening, type Reply } from './support/http.js';

const EMOJI = '😀'; // U+1F600: one character, two UTF-16 units, four UTF-8 bytes

// The limits as docs/api.md and openapi.json state them: the code's constants must agree.
describe('limits: the documented numbers', () => {
  it('are the ones the code enforces', () => {
    expect([TITLE_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, SEARCH_MAX_LENGTH]).to.deep.equal([200, 2000, 200]);
    expect([LIST_LIMIT_MAX, LIST_OFFSET_MAX]).to.deep.equal([100, 100_000]);
    expect([BODY_MAX_BYTES, REQUEST_TARGET_MAX_BYTES, HEADERS_MAX_BYTES, HEADER_MAX_BYTES]).to.deep.equal([65536, 4096, 16384, 8192]);
  });
});

describe('limits: at the edge', () => {
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('limits');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection }));
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
      it(`title, ${kind}: ${TITLE_MAX_LENGTH} accepted (also after trimming, and by PATCH), ${TITLE_MAX_LENGTH + 1} refused`, async () => {
        const atLimit = char.repeat(TITLE_MAX_LENGTH);
        const created = await post({ title: atLimit });
        expect(created.status, created.text).to.equal(201);
        expect((created.json as TaskJson).title).to.equal(atLimit);
        const trimmed = await post({ title: `  ${atLimit}\n` });
        expect(trimmed.status, trimmed.text).to.equal(201);
        expect((trimmed.json as TaskJson).title).to.equal(atLimit);
        expect((await post({ title: char })).status).to.equal(201);

        const over = await post({ title: char.repeat(TITLE_MAX_LENGTH + 1) });
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['title']);

        const id = (created.json as TaskJson).id;
        const patched = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { title: char.repeat(TITLE_MAX_LENGTH) } });
        expect(patched.status, patched.text).to.equal(200);
        const patchedOver = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { title: char.repeat(TITLE_MAX_LENGTH + 1) } });
        expect(patchedOver.status).to.equal(400);
      });

      it(`description, ${kind}: ${DESCRIPTION_MAX_LENGTH} accepted (also by PATCH), ${DESCRIPTION_MAX_LENGTH + 1} refused`, async () => {
        const atLimit = char.repeat(DESCRIPTION_MAX_LENGTH);
        const created = await post({ title: 't', description: atLimit });
        expect(created.status, created.text).to.equal(201);
        expect((created.json as TaskJson).description).to.equal(atLimit);
        const over = await post({ title: 't', description: char.repeat(DESCRIPTION_MAX_LENGTH + 1) });
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['description']);

        const id = (created.json as TaskJson).id;
        const patched = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { description: `${atLimit.slice(char.length)}${char}` } });
        expect(patched.status, patched.text).to.equal(200);
        const patchedOver = await request(server.url, `/tasks/${id}`, { method: 'PATCH', body: { description: `${atLimit}${char}` } });
        expect(patchedOver.status).to.equal(400);
      });

      it(`q, ${kind}: ${SEARCH_MAX_LENGTH} accepted, ${SEARCH_MAX_LENGTH + 1} refused`, async () => {
        const search = (text: string): Promise<Reply> => request(server.url, `/tasks?q=${encodeURIComponent(text)}`);
        const atLimit = await search(char.repeat(SEARCH_MAX_LENGTH));
        expect(atLimit.status, atLimit.text).to.equal(200);
        // The title of exactly that text, created above, is found.
        expect((atLimit.json as { items: TaskJson[] }).items.map((task) => task.title)).to.include(char.repeat(TITLE_MAX_LENGTH));
        expect((await search(char)).status).to.equal(200);
        const over = await search(char.repeat(SEARCH_MAX_LENGTH + 1));
        expect(over.status).to.equal(400);
        expect(field(over)).to.deep.equal(['q']);
      });
    }
  });

  it(`limit: 1 and ${LIST_LIMIT_MAX} accepted, 0 and ${LIST_LIMIT_MAX + 1} refused`, async () => {
    for (const limit of [1, LIST_LIMIT_MAX]) expect((await request(server.url, `/tasks?limit=${limit}`)).json).to.include({ limit });
    for (const limit of [0, LIST_LIMIT_MAX + 1]) expect(field(await request(server.url, `/tasks?limit=${limit}`))).to.deep.equal(['limit']);
  });

  it(`offset: 0 and ${LIST_OFFSET_MAX} accepted, -1 and ${LIST_OFFSET_MAX + 1} refused`, async () => {
    for (const offset of [0, LIST_OFFSET_MAX]) expect((await request(server.url, `/tasks?offset=${offset}`)).json).to.include({ offset });
    for (const offset of [-1, LIST_OFFSET_MAX + 1]) expect(field(await request(server.url, `/tasks?offset=${offset}`))).to.deep.equal(['offset']);
  });

  describe(`body: ${BODY_MAX_BYTES} bytes accepted, one more refused with 413, read whole or not at all`, () => {
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
        const atLimit = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(title, BODY_MAX_BYTES), chunked });
        expect(atLimit.status, atLimit.text).to.equal(201);
        for (const size of [BODY_MAX_BYTES + 1, 200 * 1024, 1024 * 1024]) {
          const over = await request(server.url, '/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(`${title} over`, size), chunked });
          expect(over.status, `${size} bytes`).to.equal(413);
        }
        expect(await count(title)).to.equal(1);
      });
    }
  });

  describe(`request target: ${REQUEST_TARGET_MAX_BYTES} bytes accepted, one more refused with 414`, () => {
    // An unknown path of that length: 404 shows the target passed the limit.
    const target = (bytes: number): string => `/${'a'.repeat(bytes - 1)}`;

    it('in the path', async () => {
      expect((await request(server.url, target(REQUEST_TARGET_MAX_BYTES))).status).to.equal(404);
      expect((await request(server.url, target(REQUEST_TARGET_MAX_BYTES + 1))).status).to.equal(414);
    });

    it('in the query, on a real route', async () => {
      const query = (bytes: number): string => `/tasks?q=${'b'.repeat(bytes - '/tasks?q='.length)}`;
      // Too long a q for the route (400), but not too long a target; one byte more is.
      expect((await request(server.url, query(REQUEST_TARGET_MAX_BYTES))).status).to.equal(400);
      expect((await request(server.url, query(REQUEST_TARGET_MAX_BYTES + 1))).status).to.equal(414);
    });

    it('even past what Node itself reads (answered by the server, not the app)', async () => {
      const reply = await rawRequest(server.port, `GET ${target(HEAD_SIZE_CAP + 1)} HTTP/1.1\r\nHost: t\r\nConnection: close`);
      expect(reply.status).to.equal(414);
    });
  });

  describe(`headers: ${HEADERS_MAX_BYTES} bytes in all and ${HEADER_MAX_BYTES} each accepted, one more refused with 431`, () => {
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
      expect((await withHeaders(fixedBytes + HEADER_MAX_BYTES, HEADER_MAX_BYTES)).status).to.equal(200);
      expect((await withHeaders(fixedBytes + HEADER_MAX_BYTES + 1, HEADER_MAX_BYTES + 1)).status).to.equal(431);
    });

    it('all headers', async () => {
      expect((await withHeaders(HEADERS_MAX_BYTES, 4000)).status).to.equal(200);
      expect((await withHeaders(HEADERS_MAX_BYTES + 1, 4000)).status).to.equal(431);
    });

    it(`${HEADER_COUNT_MAX} header fields, one more refused`, async () => {
      const fields = (count: number) =>
        rawRequest(
          server.port,
          [
            'GET /health HTTP/1.1',
            ...fixed.map(([name, value]) => `${name}: ${value}`),
            ...Array.from({ length: count - fixed.length }, (_, n) => `X-F${n}: f`),
          ].join('\r\n'),
        );
      expect((await fields(HEADER_COUNT_MAX)).status).to.equal(200);
      expect((await fields(HEADER_COUNT_MAX + 1)).status).to.equal(431);
    });

    it('even past what Node itself reads (answered by the server, not the app)', async () => {
      expect((await withHeaders(HEAD_SIZE_CAP + 1, 4000)).status).to.equal(431);
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
      expect(reply.json).to.deep.include({ error: 'missing Host header' });
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
