// Idempotency-Key on POST /tasks (docs/api.md § Idempotency-Key), end to end on the real database: a retry gets the
// first answer and creates nothing; another request with the key is a 422; a key in use is a 409; keys expire after
// 24 h; and a first request stopped half way is finished by a retry, never twice.
import { expect } from 'chai';
import { createApp } from '../src/app.js';
import { openDatabase, type Database } from '../src/db.js';
import type { TaskJson } from '../src/task-model.js';
import { AUTHORIZATION, TEST_CALLERS } from './support/callers.js';
import { schemaProblems } from './support/contract.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { startDelayProxy, type DelayProxy } from './support/delay-proxy.js';
import { startFerretDB, type FerretDB } from './support/ferretdb.js';
import { listen, rawRequest, request, type Listening, type Reply } from './support/http.js';
import { silentLogger } from './support/logs.js';
import { tasksTitled } from './support/tasks.js';

// As docs/api.md states them.
const HOUR_MS = 60 * 60 * 1000;
const KEY_LIFETIME_MS = 24 * HOUR_MS;
const KEY_LEASE_MS = 10_000;

/** A clock that tests move on: stopped at its start, or running (real time plus what was added). */
function movableClock({ running }: { running: boolean }): { clock: () => Date; advance(ms: number): void } {
  const start = Date.now();
  let added = 0;
  return {
    clock: () => new Date((running ? Date.now() : start) + added),
    advance(ms) {
      added += ms;
    },
  };
}

/** POST /tasks with `body` (an object as JSON, a string as is), and `key` unless undefined. */
const post = (url: string, key: string | undefined, body: unknown): Promise<Reply> =>
  request(url, '/tasks', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

function expectReplayOf(reply: Reply, first: Reply): void {
  expect(reply.status, reply.text).to.equal(first.status);
  expect(reply.text).to.equal(first.text);
  expect(reply.headers.location).to.equal(first.headers.location);
  expect(reply.headers['idempotent-replayed']).to.equal('true');
}

function expectKeyError(reply: Reply, status: number): void {
  expect(reply.status, reply.text).to.equal(status);
  expect((reply.json as { details: { field?: string }[] }).details.map((detail) => detail.field)).to.include('Idempotency-Key');
}

describe('Idempotency-Key on POST /tasks', function () {
  this.timeout(30000);
  let database: TestDatabase;
  let server: Listening;
  const time = movableClock({ running: false });

  before(async () => {
    database = await openTestDatabase('idempotency');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS, clock: time.clock }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  it('a retry with the same key gets the first answer again, and creates nothing', async () => {
    const first = await post(server.url, 'retry-1', { title: 'retried' });
    expect(first.status, first.text).to.equal(201);
    expect(first.headers['idempotent-replayed']).to.equal(undefined);
    for (let n = 0; n < 3; n++) expectReplayOf(await post(server.url, 'retry-1', { title: 'retried' }), first);
    expect(await tasksTitled(server.url, 'retried')).to.equal(1);
  });

  it('without a key, the same POST twice creates two tasks, as before', async () => {
    expect((await post(server.url, undefined, { title: 'no key' })).status).to.equal(201);
    expect((await post(server.url, undefined, { title: 'no key' })).status).to.equal(201);
    expect(await tasksTitled(server.url, 'no key')).to.equal(2);
  });

  it('a quoted key ("abc") is the same key as the bare one', async () => {
    const first = await post(server.url, '"quoted-1"', { title: 'quoted' });
    expect(first.status).to.equal(201);
    expectReplayOf(await post(server.url, 'quoted-1', { title: 'quoted' }), first);
    const escaped = await post(server.url, '"a\\"b\\\\c"', { title: 'escaped' });
    expectReplayOf(await post(server.url, 'a"b\\c', { title: 'escaped' }), escaped);
    expect(await tasksTitled(server.url, 'quoted')).to.equal(1);
  });

  it('the same key with another request: 422 naming Idempotency-Key, nothing created; the body is compared byte for byte', async () => {
    expect((await post(server.url, 'reused-1', { title: 'first use' })).status).to.equal(201);
    expectKeyError(await post(server.url, 'reused-1', { title: 'second use' }), 422);
    // The same JSON in other bytes is another body.
    expectKeyError(await post(server.url, 'reused-1', '{ "title": "first use" }'), 422);
    expect(await tasksTitled(server.url, 'second use')).to.equal(0);
    expect(await tasksTitled(server.url, 'first use')).to.equal(1);
  });

  it('a 400 is stored too: the same bad body gets it again, a corrected body with that key a 422', async () => {
    const first = await post(server.url, 'bad-body-1', { title: '' });
    expect(first.status).to.equal(400);
    expectReplayOf(await post(server.url, 'bad-body-1', { title: '' }), first);
    expectKeyError(await post(server.url, 'bad-body-1', { title: 'corrected' }), 422);
    expect(await tasksTitled(server.url, 'corrected')).to.equal(0);
  });

  it('an answer given before the body is parsed leaves the key unused: malformed JSON, then a good body with that key', async () => {
    expect((await post(server.url, 'unparsed-1', '{"title":')).status).to.equal(400);
    const created = await post(server.url, 'unparsed-1', { title: 'parsed at last' });
    expect(created.status, created.text).to.equal(201);
    expect(created.headers['idempotent-replayed']).to.equal(undefined);
  });

  describe('a malformed key: 400 naming Idempotency-Key, nothing created, as openapi.json says', () => {
    const keys: [string, boolean][] = [
      ['a', true],
      ['k'.repeat(255), true],
      [`"${'q'.repeat(255)}"`, true],
      ['!#$%&\'*+-.^_`|~09AZaz:/?=@[]{}()<>,;', true],
      ['ab"c', true],
      ['k'.repeat(256), false],
      [`"${'q'.repeat(256)}"`, false],
      ['a b', false],
      ['"a b"', false],
      ['""', false],
      ['"abc', false],
      ['"a\\bc"', false],
      ['caf\u00e9', false],
    ];
    for (const [key, valid] of keys) {
      it(`${JSON.stringify(key.length > 40 ? `${key.slice(0, 20)}…(${key.length})` : key)}: ${valid ? 'accepted' : '400'}`, async () => {
        const title = `key ${key.length} ${valid}`;
        const reply = await post(server.url, key, { title });
        if (valid) {
          expect(reply.status, reply.text).to.equal(201);
        } else {
          expectKeyError(reply, 400);
          expect(await tasksTitled(server.url, title)).to.equal(0);
        }
        expect((await schemaProblems('/components/parameters/IdempotencyKey/schema', key)).length === 0, 'openapi.json agrees').to.equal(valid);
      });
    }

    it('an empty key, and two Idempotency-Key lines: 400', async () => {
      const body = '{"title":"two keys"}';
      const head = (keys: string[]): string =>
        ['POST /tasks HTTP/1.1', 'Host: t', AUTHORIZATION, 'Content-Type: application/json', `Content-Length: ${body.length}`, ...keys.map((key) => `Idempotency-Key: ${key}`), 'Connection: close'].join('\r\n');
      expectKeyError(await rawRequest(server.port, head(['']), body), 400);
      expectKeyError(await rawRequest(server.port, head(['k1', 'k2']), body), 400);
      expectKeyError(await rawRequest(server.port, head(['k1', 'k1']), body), 400);
      expect(await tasksTitled(server.url, 'two keys')).to.equal(0);
    });
  });

  it('the same key sent 10 times at once: one task, one 201, and each other answer a 409 or that 201 replayed (3 times)', async () => {
    for (let round = 0; round < 3; round++) {
      const title = `at once ${round}`;
      const replies = await Promise.all(Array.from({ length: 10 }, () => post(server.url, `at-once-${round}`, { title })));
      const fresh = replies.filter((reply) => reply.status === 201 && reply.headers['idempotent-replayed'] === undefined);
      expect(fresh, replies.map((reply) => reply.status).join(' ')).to.have.lengthOf(1);
      for (const reply of replies) {
        if (reply.status === 409) expectKeyError(reply, 409);
        else if (reply !== fresh[0]) expectReplayOf(reply, fresh[0] as Reply);
      }
      expect(await tasksTitled(server.url, title)).to.equal(1);
    }
  });

  it('a key expires 24 h after its first use: then the same request creates a new task', async () => {
    const first = await post(server.url, 'expiring-1', { title: 'expiring' });
    time.advance(KEY_LIFETIME_MS - 1);
    expectReplayOf(await post(server.url, 'expiring-1', { title: 'expiring' }), first);
    time.advance(1);
    const again = await post(server.url, 'expiring-1', { title: 'expiring' });
    expect(again.status).to.equal(201);
    expect(again.headers['idempotent-replayed']).to.equal(undefined);
    expect((again.json as TaskJson).id).not.to.equal((first.json as TaskJson).id);
    expectReplayOf(await post(server.url, 'expiring-1', { title: 'expiring' }), again);
    expect(await tasksTitled(server.url, 'expiring')).to.equal(2);
  });

  it('expired keys are deleted, not kept forever', async () => {
    const keys = database.connection.collection('idempotency_keys');
    for (let n = 0; n < 5; n++) expect((await post(server.url, `swept-${n}`, { title: 'swept' })).status).to.equal(201);
    time.advance(KEY_LIFETIME_MS + 60_000);
    expect((await post(server.url, 'sweeper', { title: 'sweeper' })).status).to.equal(201);
    // The sweep goes on after that answer.
    const expired = async (): Promise<number> => keys.countDocuments({ expiresAt: { $lte: time.clock() } });
    for (let tries = 0; (await expired()) > 0 && tries < 50; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await expired()).to.equal(0);
    expect(await keys.countDocuments({})).to.be.greaterThan(0);
  });
});

// Two instances of the service on one database, one reaching it through a proxy that holds back the writes of tasks:
// a first request caught between storing its key and creating its task, as a slow or failing database leaves it.
describe('Idempotency-Key while the first request is at work', function () {
  this.timeout(40000);
  let ferret: FerretDB;
  let proxy: DelayProxy;
  let slowDatabase: Database;
  let directDatabase: Database;
  let slow: Listening;
  let direct: Listening;
  const directTime = movableClock({ running: true });

  before(async () => {
    ferret = await startFerretDB();
    proxy = await startDelayProxy(ferret.port);
    slowDatabase = openDatabase(`mongodb://127.0.0.1:${proxy.port}/`, silentLogger(), { dbName: 'keys' });
    directDatabase = openDatabase(ferret.uri, silentLogger(), { dbName: 'keys' });
    await Promise.all([slowDatabase.ready, directDatabase.ready]);
    slow = await listen(createApp({ logger: silentLogger(), connection: slowDatabase.connection, callers: TEST_CALLERS }));
    direct = await listen(createApp({ logger: silentLogger(), connection: directDatabase.connection, callers: TEST_CALLERS, clock: directTime.clock }));
    // The indexes exist before the proxy holds anything back.
    await Promise.all([slowDatabase, directDatabase].flatMap((database) => Object.values(database.connection.models).map((model) => model.init())));
  });

  after(async () => {
    proxy.setDelay(0);
    await Promise.all([slow.close(), direct.close()]);
    await Promise.all([slowDatabase.close(), directDatabase.close()]);
    await proxy.close();
    await ferret.destroy();
  });

  // Only a task document has this field: the key's record holds the answer as JSON, with created_at.
  const TASK_WRITE = 'createdAt';

  it('a retry while the first request is at work: 409 naming Idempotency-Key (and another body 422); once it is done, its answer', async () => {
    proxy.setDelay(1000, TASK_WRITE);
    const held = proxy.nextHeld();
    const first = post(slow.url, 'busy-1', { title: 'busy' });
    await held;
    expectKeyError(await post(direct.url, 'busy-1', { title: 'busy' }), 409);
    expectKeyError(await post(direct.url, 'busy-1', { title: 'other' }), 422);
    const answer = await first;
    proxy.setDelay(0);
    expect(answer.status, answer.text).to.equal(201);
    expectReplayOf(await post(direct.url, 'busy-1', { title: 'busy' }), answer);
    expect(await tasksTitled(direct.url, 'busy')).to.equal(1);
  });

  it('a first request stopped half way (503, outcome unknown) is finished by a retry after 10 s, once', async () => {
    proxy.setDelay(4000, TASK_WRITE);
    const held = proxy.nextHeld();
    const first = post(slow.url, 'halfway-1', { title: 'half way' });
    await held;
    const stopped = await first;
    expect(stopped.status, stopped.text).to.equal(503);
    expect(stopped.json).to.deep.include({ error: 'outcome unknown' });

    expectKeyError(await post(direct.url, 'halfway-1', { title: 'half way' }), 409);
    directTime.advance(KEY_LEASE_MS);
    const finished = await post(direct.url, 'halfway-1', { title: 'half way' });
    expect(finished.status, finished.text).to.equal(201);
    expect(finished.headers['idempotent-replayed']).to.equal('true');
    const task = finished.json as TaskJson;
    expect((await request(direct.url, `/tasks/${task.id}`)).json).to.deep.equal(task);

    // The held write of the first request, if it ever arrives, finds the task there and adds none.
    await new Promise((resolve) => setTimeout(resolve, 4500));
    proxy.setDelay(0);
    expectReplayOf(await post(slow.url, 'halfway-1', { title: 'half way' }), finished);
    expect(await tasksTitled(direct.url, 'half way')).to.equal(1);
  });

  it('a slow database (each round trip 1 s): a POST with a key still answers within 3 s, and a retry makes one task', async () => {
    proxy.setDelay(1000);
    let answer: Reply;
    try {
      answer = await post(slow.url, 'slow-1', { title: 'slow database' });
    } finally {
      proxy.setDelay(0);
    }
    // Three round trips (the key, the task, the key again) would take over 3 s: the request's time runs out first.
    expect(answer.status, answer.text).to.equal(503);
    expect(answer.durationMs).to.be.below(3000);
    directTime.advance(KEY_LEASE_MS);
    expect((await post(direct.url, 'slow-1', { title: 'slow database' })).status).to.equal(201);
    expect(await tasksTitled(direct.url, 'slow database')).to.equal(1);
  });
});
