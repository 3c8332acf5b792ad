// Log shipping: request lines reach a local bulk API receiver under the token's index; a dead receiver changes nothing.
import { expect } from 'chai';
import net from 'node:net';
import type winston from 'winston';
import { createApp } from '../src/app.js';
import { createLogger, flushLogs } from '../src/logger.js';
import { startBulkReceiver, type BulkReceiver } from './support/bulk-receiver.js';
import { TEST_CALLERS } from './support/callers.js';
import { openTestDatabase, type TestDatabase } from './support/database.js';
import { freePort } from './support/ferretdb.js';
import { listen, request, type Listening } from './support/http.js';
import { MemoryStream } from './support/logs.js';

const TOKEN = 'a1b2c3d4-0000-4000-8000-logsene-test';

describe('logging to Logsene', () => {
  let database: TestDatabase;

  before(async () => {
    database = await openTestDatabase('logsene');
  });

  after(async () => {
    await database.drop();
  });

  /** The app with a logger that ships to `logseneUrl`; stdout lines are kept in `stdout`. */
  async function serve(logseneUrl: string): Promise<{ server: Listening; logger: winston.Logger; stdout: MemoryStream }> {
    const stdout = new MemoryStream();
    const logger = createLogger({ level: 'info', logseneToken: TOKEN, logseneUrl, stream: stdout });
    const server = await listen(createApp({ logger, connection: database.connection, callers: TEST_CALLERS }));
    return { server, logger, stdout };
  }

  describe('with the receiver up', () => {
    let receiver: BulkReceiver;

    before(async () => {
      receiver = await startBulkReceiver();
    });

    after(async () => {
      await receiver.close();
    });

    it('ships each request line, with method, path, status and duration, under the token', async () => {
      const { server, logger, stdout } = await serve(receiver.url);
      try {
        const created = await request(server.url, '/tasks', { method: 'POST', body: { title: 'logged' } });
        expect(created.status).to.equal(201);
        expect((await request(server.url, '/no-such-route')).status).to.equal(404);

        await flushLogs(logger, 5000);

        expect(receiver.paths).to.include('/_bulk');
        expect(receiver.entries).to.have.length.of.at.least(2);
        for (const entry of receiver.entries) expect(entry.action.index?._index).to.equal(TOKEN);
        const shipped = receiver.entries.map((entry) => entry.document);
        const post = shipped.find((doc) => doc.method === 'POST' && doc.path === '/tasks');
        expect(post, JSON.stringify(shipped)).to.include({ message: 'request', status: 201, severity: 'info' });
        expect(post?.durationMs).to.be.a('number');
        const missing = shipped.find((doc) => doc.path === '/no-such-route');
        expect(missing).to.include({ method: 'GET', status: 404 });

        // The same lines went to stdout as JSON, and the token appears in neither.
        expect(stdout.lines().filter((line) => line.message === 'request')).to.have.lengthOf(2);
        expect(JSON.stringify(shipped) + JSON.stringify(stdout.lines())).not.to.include(TOKEN);
      } finally {
        await server.close();
      }
    });
  });

  describe('with the receiver down', () => {
    async function exercise(server: Listening): Promise<void> {
      for (let i = 0; i < 20; i++) {
        const created = await request(server.url, '/tasks', { method: 'POST', body: { title: `while down ${i}` } });
        expect(created.status).to.equal(201);
        expect(created.durationMs, `request ${i}`).to.be.below(500);
        const listed = await request(server.url, '/tasks?limit=1');
        expect(listed.status).to.equal(200);
        expect(listed.durationMs, `request ${i}`).to.be.below(500);
      }
    }

    it('answers normally and quickly when nothing listens on the receiver port, and says so on stdout', async () => {
      const { server, logger, stdout } = await serve(`http://127.0.0.1:${await freePort()}`);
      try {
        await exercise(server);
        await flushLogs(logger, 5000); // a failed send, reported on stdout
        await exercise(server);
        const warnings = stdout.lines().filter((line) => line.message === 'shipping logs to Logsene failed; they stay on stdout');
        expect(warnings).to.have.length.of.at.least(1);
        expect(JSON.stringify(warnings)).not.to.include(TOKEN);
        expect(stdout.lines().filter((line) => line.message === 'request')).to.have.lengthOf(80);
      } finally {
        await server.close();
      }
    });

    it('answers normally and quickly when the receiver accepts but never answers, and flushing gives up in time', async () => {
      const sockets = new Set<net.Socket>();
      const blackHole = net.createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      const { server, logger } = await serve(`http://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}`);
      try {
        await exercise(server);
        const started = Date.now();
        await flushLogs(logger, 1000);
        expect(Date.now() - started).to.be.within(900, 2000);
        await exercise(server);
      } finally {
        await server.close();
        for (const socket of sockets) socket.destroy();
        blackHole.close();
      }
    });
  });
});
