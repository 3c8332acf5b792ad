// Slow clients cannot hold the service's sockets: the server closes each within the timeout docs/tasks.md gives
// (§ Slow clients), and answers the others meanwhile. Not a speed figure: bench/ measures the effect on other clients.
import { expect } from 'chai';
import net from 'node:net';
import { createApp } from '../src/app.js';
import { AUTHORIZATION, TEST_CALLERS } from './support/callers.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { listen, request, type Listening } from './support/http.js';
import { silentLogger } from './support/logs.js';

// As docs/tasks.md states them.
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_CLOSE_MS = 6000;
/** Node looks for late requests every 0.5 s; the rest is room for a loaded machine. */
const LATENESS_MS = 3000;

interface Closed {
  afterMs: number;
  received: string;
}

/** After this long a test gives up on a connection the server should have closed (its afterMs is then Infinity). */
const GIVE_UP_MS = REQUEST_TIMEOUT_MS + LATENESS_MS + 2000;

/** Connects, sends `first`, then one byte of `drip` every `everyMs`, until the server closes the connection. */
function slowClient(port: number, first: string, drip: string, everyMs = 500): Promise<Closed> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    const dripping = setInterval(() => {
      if (sent < drip.length) socket.write(drip[sent++] ?? '');
    }, everyMs);
    const givingUp = setTimeout(() => {
      socket.removeAllListeners('close');
      socket.destroy();
      clearInterval(dripping);
      resolve({ afterMs: Infinity, received });
    }, GIVE_UP_MS);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(dripping);
      clearTimeout(givingUp);
      resolve({ afterMs: performance.now() - started, received });
    });
    socket.write(first);
  });
}

describe('slow clients', function () {
  this.timeout(40000);
  let database: TestDatabase;
  let server: Listening;

  before(async () => {
    database = await openTestDatabase('slow');
    server = await listen(createApp({ logger: silentLogger(), connection: database.connection, callers: TEST_CALLERS }));
  });

  after(async () => {
    await server.close();
    await database.drop();
  });

  function expectClosedWithin(closed: Closed, fromMs: number, what: string): void {
    expect(closed.afterMs, `${what} closed after ${Math.round(closed.afterMs)} ms`).to.be.within(fromMs - 500, fromMs + LATENESS_MS);
  }

  function expect408(closed: Closed, what: string): void {
    expect(closed.received, what).to.match(/^HTTP\/1\.1 408 /);
    expect(closed.received, what).to.include('X-Content-Type-Options: nosniff');
    expect(closed.received, what).to.include('"error":"request timeout"');
  }

  it('closes headers sent a byte at a time, silent connections, slow bodies and idle keep-alive connections, each in its time', async () => {
    const head = 'GET /health HTTP/1.1\r\nHost: t\r\n';
    const body = '{"title":"never whole"}';
    const slowBodyHead = `POST /tasks HTTP/1.1\r\nHost: t\r\n${AUTHORIZATION}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const slowloris = Array.from({ length: 10 }, () => slowClient(server.port, '', `${head}X-Slow: ${'s'.repeat(100)}`));
    const silent = Array.from({ length: 5 }, () => slowClient(server.port, '', ''));
    const slowBodies = Array.from({ length: 5 }, () => slowClient(server.port, slowBodyHead, body, 1000));
    const idle = slowClient(server.port, `${head}\r\n`, '');

    // Meanwhile, the service answers everyone else.
    for (let n = 0; n < 5; n++) {
      expect((await request(server.url, '/health', { timeoutMs: 2000 })).status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    for (const closed of await Promise.all(slowloris)) {
      expectClosedWithin(closed, HEADERS_TIMEOUT_MS, 'a slowloris connection');
      expect408(closed, 'a slowloris connection');
    }
    for (const closed of await Promise.all(silent)) {
      expectClosedWithin(closed, HEADERS_TIMEOUT_MS, 'a silent connection');
      expect408(closed, 'a silent connection');
    }
    for (const closed of await Promise.all(slowBodies)) {
      expectClosedWithin(closed, REQUEST_TIMEOUT_MS, 'a slow body');
      expect408(closed, 'a slow body');
    }
    const closedIdle = await idle;
    expectClosedWithin(closedIdle, KEEP_ALIVE_CLOSE_MS, 'an idle keep-alive connection');
    expect(closedIdle.received).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(closedIdle.received).to.include('Keep-Alive: timeout=5');
    expect(await request(server.url, '/tasks?q=never%20whole')).to.have.nested.property('json.total', 0);
  });

  it('answers a slow body without a key at once with 401, and closes the connection: its body is never awaited', async () => {
    const body = '{"title":"no key"}';
    const head = `POST /tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const closed = await slowClient(server.port, head, body, 1000);
    expect(closed.received).to.match(/^HTTP\/1\.1 401 /).and.include('Connection: close');
    expect(closed.afterMs).to.be.below(LATENESS_MS);
  });
});
