// The compiled entry point run as a real process: refuses a bad environment, reads its callers at start, serves, and
// stops cleanly on SIGTERM.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf } from '../src/callers.js';
import { startBulkReceiver } from './support/bulk-receiver.js';
import { callersFile, keyMaterialIn, READER, UNKNOWN_KEY, WRITER, WRITER_KEY } from './support/callers.js';
import { throwawayCertificate } from './support/certificate.js';
import { startDelayProxy, type DelayProxy } from './support/delay-proxy.js';
import { freePort, startFerretDB, type FerretDB } from './support/ferretdb.js';
import { request, type Reply } from './support/http.js';

const serverJs = fileURLToPath(new URL('../src/server.js', import.meta.url));
const healthcheckJs = fileURLToPath(new URL('../src/healthcheck.js', import.meta.url));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  exited: Promise<Exit>;
  stdout(): string;
}

/** Starts `script` with exactly `env` (plus PATH, and the tests' callers in API_KEYS unless `env` sets it), collecting
 * its output. */
function start(script: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? '', API_KEYS: callersFile([WRITER, READER]), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }); }));
  return { child, exited, stdout: () => stdout };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what} took over ${ms} ms`)); }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The answer to GET `path`, or undefined while nothing listens yet (any other failure is thrown). */
async function answerOnceListening(url: string, path: string): Promise<Reply | undefined> {
  try {
    return await request(url, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') return undefined;
    throw error;
  }
}

async function waitUntilHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await answerOnceListening(url, '/health'))?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`the server was not healthy within ${timeoutMs} ms`);
}

/** The first answer to `path` once the server listens (it may still be starting). */
async function firstAnswer(url: string, path: string): Promise<Reply> {
  for (let tries = 0; tries < 50; tries++) {
    const reply = await answerOnceListening(url, path);
    if (reply) return reply;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return expect.fail(`nothing answered ${url}${path} within 5 s`);
}

/** Whether a TCP connection to `address`:`port` is refused (nothing listens there, or no longer). */
function refusesConnections(port: number, address = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, address);
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => { resolve(true); });
  });
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function runHealthcheck(port: number, host?: string): Promise<number | null> {
  return (await within(start(healthcheckJs, { PORT: String(port), ...(host ? { HOST: host } : {}) }).exited, 8000, 'the healthcheck')).code;
}

describe('server process', function () {
  this.timeout(30000);

  describe('refuses a bad environment, naming the variable', () => {
    const cases: { name: string; env: Record<string, string>; variable: string; secret?: string }[] = [
      { name: 'no MONGODB_URI', env: {}, variable: 'MONGODB_URI' },
      { name: 'a MONGODB_URI of another scheme', env: { MONGODB_URI: 'https://admin:hunter2@db.example.net' }, variable: 'MONGODB_URI', secret: 'hunter2' },
      { name: 'a PORT that is not a number', env: { MONGODB_URI: 'mongodb://127.0.0.1:1/', PORT: 'eighty' }, variable: 'PORT' },
      { name: 'an unknown LOG_LEVEL', env: { MONGODB_URI: 'mongodb://127.0.0.1:1/', LOG_LEVEL: 'chatty' }, variable: 'LOG_LEVEL' },
      { name: 'a bad LOGSENE_URL', env: { MONGODB_URI: 'mongodb://127.0.0.1:1/', LOGSENE_TOKEN: 'tok-s3cret', LOGSENE_URL: 'nowhere' }, variable: 'LOGSENE_URL', secret: 'tok-s3cret' },
      { name: 'no callers', env: { MONGODB_URI: 'mongodb://127.0.0.1:1/', API_KEYS: '' }, variable: 'API_KEYS or API_KEYS_FILE' },
      {
        name: 'a callers file with a reader of unknown access',
        env: { MONGODB_URI: 'mongodb://127.0.0.1:1/', API_KEYS: callersFile([WRITER, { ...READER, access: 'none' as 'read' }]) },
        variable: 'API_KEYS caller requests: access must be "read" or "write"',
        secret: digestOf(READER.keys[0] ?? '').toString('hex'),
      },
    ];
    for (const { name, env, variable, secret } of cases) {
      it(`${name} → exit 1 with ${variable} on stderr`, async () => {
        const exit = await within(start(serverJs, env).exited, 8000, 'exiting');
        expect(exit.code).to.equal(1);
        expect(exit.stderr).to.include(variable);
        expect(exit.stdout).to.equal('');
        if (secret) expect(exit.stderr).not.to.include(secret);
      });
    }
  });

  it('exits 1 when its port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    try {
      const port = String((taken.address() as net.AddressInfo).port);
      const exit = await within(start(serverJs, { PORT: port, MONGODB_URI: 'mongodb://127.0.0.1:1/tasks' }).exited, 8000, 'exiting');
      expect(exit.code).to.equal(1);
      expect(jsonLines(exit.stdout).find((line) => line.message === 'server error')).to.have.property('reason').that.includes('EADDRINUSE');
    } finally {
      taken.close();
    }
  });

  describe('HOST', () => {
    // 127.0.0.2 is loopback too, but another address: a server bound to 127.0.0.1 alone does not take it.
    for (const [host, elsewhere] of [['127.0.0.1', false], [undefined, true]] as const) {
      it(`${host ? `HOST=${host}` : 'no HOST'}: ${elsewhere ? 'listens on every interface' : 'listens on that address only'}`, async () => {
        const port = await freePort();
        const server = start(serverJs, { PORT: String(port), MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/tasks`, ...(host ? { HOST: host } : {}) });
        try {
          await firstAnswer(`http://127.0.0.1:${port}`, '/health');
          expect(await refusesConnections(port, '127.0.0.2')).to.equal(!elsewhere);
        } finally {
          server.child.kill('SIGKILL');
        }
      });
    }
  });

  describe('its callers', () => {
    let dir: string;

    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'tasks-callers-'));
    });

    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('are read from API_KEYS_FILE at start only: a key revoked in the file is refused once the service restarts', async () => {
      const [revoked = '', kept = ''] = WRITER.keys;
      const file = path.join(dir, 'callers.json');
      writeFileSync(file, callersFile([WRITER]));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = { PORT: String(port), MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/tasks`, API_KEYS: '', API_KEYS_FILE: file };
      const first = start(serverJs, env);
      try {
        await firstAnswer(url, '/health');
        expect((await request(url, '/tasks', { key: revoked })).status).to.equal(503);
        // The release writes the new callers file, then replaces the container: until then the old callers hold.
        writeFileSync(file, callersFile([{ ...WRITER, keys: [kept] }]));
        expect((await request(url, '/tasks', { key: revoked })).status).to.equal(503);
        first.child.kill('SIGTERM');
        expect((await within(first.exited, 5000, 'stopping')).code).to.equal(0);
      } finally {
        first.child.kill('SIGKILL');
      }
      const second = start(serverJs, env);
      try {
        await firstAnswer(url, '/health');
        const refused = await request(url, '/tasks', { key: revoked });
        expect(refused.status).to.equal(401);
        expect(refused.headers['www-authenticate']).to.equal('Bearer realm="tasks", error="invalid_token"');
        expect((await request(url, '/tasks', { key: kept })).status).to.equal(503);
        second.child.kill('SIGTERM');
        const exit = await within(second.exited, 5000, 'stopping');
        expect(keyMaterialIn(exit.stdout + exit.stderr)).to.deep.equal([]);
      } finally {
        second.child.kill('SIGKILL');
      }
    });
  });

  describe('with its database unreachable', () => {
    it('listens anyway, answers 503, and still stops at once on SIGTERM', async () => {
      const port = await freePort();
      const server = start(serverJs, { PORT: String(port), MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/tasks` });
      try {
        const health = await firstAnswer(`http://127.0.0.1:${port}`, '/health');
        expect(health.status).to.equal(503);
        expect((await request(`http://127.0.0.1:${port}`, '/tasks')).status).to.equal(503);
        expect(await runHealthcheck(port)).to.equal(1);
        // Stop it while it waits between two connection attempts.
        for (let tries = 0; !server.stdout().includes('database connection failed; retrying') && tries < 60; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(server.stdout()).to.include('database connection failed; retrying');
        server.child.kill('SIGTERM');
        const exit = await within(server.exited, 5000, 'stopping');
        expect(exit.code).to.equal(0);
        expect(jsonLines(exit.stdout).map((line) => line.message)).to.include('stopped');
      } finally {
        server.child.kill('SIGKILL');
      }
    });
  });

  describe('with Logsene configured', () => {
    it('ships its log lines to LOGSENE_URL under LOGSENE_TOKEN, the last ones as it stops', async () => {
      const token = 'process-test-token-7f3a';
      const receiver = await startBulkReceiver();
      const port = await freePort();
      const server = start(serverJs, {
        PORT: String(port),
        MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/tasks`,
        LOGSENE_TOKEN: token,
        LOGSENE_URL: receiver.url,
      });
      try {
        const health = await firstAnswer(`http://127.0.0.1:${port}`, '/health');
        expect(health.status).to.equal(503);
        expect((await request(`http://127.0.0.1:${port}`, '/tasks')).status).to.equal(503);
        expect((await request(`http://127.0.0.1:${port}`, '/tasks', { key: UNKNOWN_KEY })).status).to.equal(401);
        server.child.kill('SIGTERM');
        const exit = await within(server.exited, 5000, 'stopping');
        expect(exit.code).to.equal(0);

        // Logs batch every 20 s, so everything here arrived through the flush on SIGTERM.
        expect(receiver.entries.map((entry) => entry.action.index?._index)).to.satisfy((indexes: unknown[]) => indexes.every((index) => index === token));
        const shipped = receiver.entries.map((entry) => entry.document);
        expect(shipped.find((doc) => doc.path === '/health')).to.include({ message: 'request', method: 'GET', status: 503, caller: null });
        expect(shipped.filter((doc) => doc.path === '/tasks').map((doc) => [doc.status, doc.caller])).to.deep.equal([[503, WRITER.id], [401, null]]);
        expect(keyMaterialIn(JSON.stringify(receiver.entries) + exit.stdout + exit.stderr)).to.deep.equal([]);
        expect(shipped.map((doc) => doc.message)).to.include.members(['listening', 'shutting down: finishing in-flight requests', 'stopped']);
        expect(exit.stdout + exit.stderr).not.to.include(token);
      } finally {
        server.child.kill('SIGKILL');
        await receiver.close();
      }
    });
  });

  describe('with Logsene over HTTPS', () => {
    /** Runs the service against an HTTPS receiver with a self-signed certificate; returns what reached it and stdout. */
    async function shipOverHttps(trust: boolean): Promise<{ shipped: number; stdout: string }> {
      const certificate = await throwawayCertificate();
      const receiver = await startBulkReceiver(certificate);
      const port = await freePort();
      const server = start(serverJs, {
        PORT: String(port),
        MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/tasks`,
        LOGSENE_TOKEN: 'https-test-token',
        LOGSENE_URL: receiver.url,
        ...(trust ? { NODE_EXTRA_CA_CERTS: certificate.certFile } : {}),
      });
      try {
        expect((await firstAnswer(`http://127.0.0.1:${port}`, '/health')).status).to.equal(503);
        server.child.kill('SIGTERM');
        const exit = await within(server.exited, 5000, 'stopping');
        expect(exit.code).to.equal(0);
        return { shipped: receiver.entries.length, stdout: exit.stdout };
      } finally {
        server.child.kill('SIGKILL');
        await receiver.close();
        await certificate.remove();
      }
    }

    it('verifies the receiver\'s certificate: an untrusted one gets no log line, and the failure is reported', async () => {
      const { shipped, stdout } = await shipOverHttps(false);
      expect(shipped).to.equal(0);
      const warning = jsonLines(stdout).find((line) => line.message === 'shipping logs to Logsene failed; they stay on stdout');
      expect(warning?.reason, stdout).to.match(/self[- ]signed certificate/);
    });

    it('ships to the same receiver once its certificate is trusted (NODE_EXTRA_CA_CERTS)', async () => {
      const { shipped, stdout } = await shipOverHttps(true);
      expect(shipped, stdout).to.be.at.least(3);
    });
  });

  describe('SIGTERM during a slow request', () => {
    let ferret: FerretDB;
    let proxy: DelayProxy;

    before(async () => {
      ferret = await startFerretDB();
      proxy = await startDelayProxy(ferret.port);
    });

    after(async () => {
      await proxy.close();
      await ferret.destroy();
    });

    it('finishes the request, refuses new connections, closes the database and exits within 10 s', async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const server = start(serverJs, { PORT: String(port), MONGODB_URI: `mongodb://127.0.0.1:${proxy.port}/sigterm`, LOG_LEVEL: 'info' });
      try {
        await waitUntilHealthy(url, 10000);
        expect(await runHealthcheck(port)).to.equal(0);
        const created = await request(url, '/tasks', { method: 'POST', body: { title: 'in flight' } });
        expect(created.status).to.equal(201);

        // Every database round trip now takes 1 s (under the driver's timeouts): the next request is slow.
        proxy.setDelay(1000);
        const held = proxy.nextHeld();
        const slow = request(url, '/tasks');
        await held;
        await new Promise((resolve) => setTimeout(resolve, 100));
        const signalled = Date.now();
        server.child.kill('SIGTERM');

        let refused = false;
        for (let tries = 0; !refused && tries < 20; tries++) {
          refused = await refusesConnections(port);
          if (!refused) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(refused, 'new connections are refused after SIGTERM').to.equal(true);

        const reply = await slow;
        expect(reply.status, reply.text).to.equal(200);
        expect((reply.json as { items: { title: string }[] }).items.map((task) => task.title)).to.deep.equal(['in flight']);
        expect(reply.durationMs).to.be.at.least(900);
        proxy.setDelay(0);

        const exit = await within(server.exited, 10000, 'exiting after SIGTERM');
        expect(exit.code).to.equal(0);
        expect(Date.now() - signalled).to.be.below(10000);

        // stdout is JSON lines: the slow request is logged after the shutdown began and before the process stopped.
        const lines = jsonLines(exit.stdout);
        const indexOf = (predicate: (line: Record<string, unknown>) => boolean): number => lines.findIndex(predicate);
        const shuttingDown = indexOf((line) => line.message === 'shutting down: finishing in-flight requests');
        const slowLogged = indexOf((line) => line.message === 'request' && line.method === 'GET' && line.path === '/tasks');
        const stopped = indexOf((line) => line.message === 'stopped');
        expect(lines[slowLogged]).to.include({ status: 200 });
        expect(shuttingDown).to.be.within(0, slowLogged - 1);
        expect(stopped).to.equal(lines.length - 1).and.be.greaterThan(slowLogged);
      } finally {
        server.child.kill('SIGKILL');
        proxy.setDelay(0);
      }
      expect(await runHealthcheck(port)).to.equal(1);
    });

    it('is checked by the image\'s healthcheck on the address HOST names', async () => {
      const port = await freePort();
      const server = start(serverJs, { PORT: String(port), HOST: '127.0.0.2', MONGODB_URI: `mongodb://127.0.0.1:${proxy.port}/healthcheck` });
      try {
        await waitUntilHealthy(`http://127.0.0.2:${port}`, 10000);
        expect(await runHealthcheck(port, '127.0.0.2')).to.equal(0);
        // Without HOST it asks 127.0.0.1, where this server does not listen.
        expect(await runHealthcheck(port)).to.equal(1);
      } finally {
        server.child.kill('SIGKILL');
      }
    });

    it('tells a keep-alive client to close its connection after the answer in flight', async () => {
      const port = await freePort();
      const server = start(serverJs, { PORT: String(port), MONGODB_URI: `mongodb://127.0.0.1:${proxy.port}/keepalive` });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const get = (path: string) =>
        new Promise<http.IncomingMessage>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${WRITER_KEY}` } }, (res) => { res.resume(); res.on('end', () => { resolve(res); }); }).on('error', reject);
        });
      try {
        await waitUntilHealthy(`http://127.0.0.1:${port}`, 10000);
        const before = await get('/health');
        expect(before.headers.connection, 'a keep-alive connection while serving').to.equal('keep-alive');

        proxy.setDelay(1000);
        const held = proxy.nextHeld();
        const slow = get('/tasks');
        await held;
        const signalled = Date.now();
        server.child.kill('SIGTERM');
        const answer = await slow;
        proxy.setDelay(0);
        expect(answer.statusCode).to.equal(200);
        expect(answer.headers.connection, 'the answer in flight at SIGTERM ends its connection').to.equal('close');
        const exit = await within(server.exited, 5000, 'exiting after SIGTERM');
        expect(exit.code).to.equal(0);
        expect(Date.now() - signalled).to.be.below(5000);
      } finally {
        agent.destroy();
        server.child.kill('SIGKILL');
        proxy.setDelay(0);
      }
    });
  });
});
