#!/usr/bin/env node
// What slow clients cost the tasks service's other clients: GET /tasks/{id} under load, alone and then beside 100
// connections sending their headers a byte a second and 20 sending their bodies a byte a second (each reconnecting
// when the server closes it). Prints both runs and the ratio of their p99; the tests assert only that the server
// closes slow sockets in time (services/tasks/test/slow-clients.test.ts).
//   node bench/tasks-slow-clients.mjs [--duration S] [--connections N]
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFerretDb } from './lib/databases.mjs';
import { freePort, teardown } from './lib/processes.mjs';
import { AUTHORIZATION, buildTasksService, startTasksService } from './lib/services.mjs';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '15' }, connections: { type: 'string', default: '16' } } });
const duration = Number(values.duration);
const connections = Number(values.connections);
const SLOWLORIS = 100;
const SLOW_BODIES = 20;

/** Keeps `count` connections open that send `head` then `drip` a byte a second, reconnecting when closed. */
function slowClients(port, count, head, drip) {
  const state = { stopped: false, closedByServer: 0, sockets: new Set() };
  const open = () => {
    if (state.stopped) return;
    const socket = net.connect(port, '127.0.0.1');
    state.sockets.add(socket);
    let sent = 0;
    const timer = setInterval(() => socket.write(drip[sent++ % drip.length]), 1000);
    socket.on('error', () => undefined);
    // Read (and drop) what the server sends, or its closing would never be seen.
    socket.resume();
    socket.on('close', () => {
      clearInterval(timer);
      state.sockets.delete(socket);
      if (state.stopped) return;
      state.closedByServer++;
      open();
    });
    socket.write(head);
  };
  for (let n = 0; n < count; n++) open();
  return {
    state,
    stop() {
      state.stopped = true;
      for (const socket of state.sockets) socket.destroy();
    },
  };
}

async function load(url) {
  const result = await autocannon({ url, connections, duration, headers: { authorization: AUTHORIZATION }, warmup: { connections, duration: 2 } });
  return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-slow-'));
try {
  const ferretDb = await startFerretDb(path.join(workDir, 'ferretdb'), await freePort());
  const entry = await buildTasksService(workDir);
  const service = await startTasksService({ workDir, name: 'tasks', entry, mongoUrl: `${ferretDb.url}bench`, logseneUrl: `http://127.0.0.1:${await freePort()}` });
  const created = await fetch(`${service.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: AUTHORIZATION }, body: '{"title":"read under load"}' });
  const { id } = await created.json();
  const url = `${service.url}/tasks/${id}`;

  const alone = await load(url);
  const lorises = slowClients(service.port, SLOWLORIS, '', `GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ${'s'.repeat(200)}`);
  const body = '{"title":"never whole"}';
  const bodies = slowClients(service.port, SLOW_BODIES, `POST /tasks HTTP/1.1\r\nHost: t\r\nAuthorization: ${AUTHORIZATION}\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 1000}\r\n\r\n`, body);
  const beside = await load(url);
  lorises.stop();
  bodies.stop();

  const row = (name, figures) => `${name.padEnd(44)}${String(figures.rps).padStart(8)}${`${figures.p50} ms`.padStart(9)}${`${figures.p99} ms`.padStart(9)}${String(figures.errors).padStart(8)}`;
  process.stdout.write(
    [
      `\n== tasks: GET /tasks/{id}, ${connections} connections, ${duration} s each (${os.availableParallelism()} cores)`,
      `${''.padEnd(44)}${'req/s'.padStart(8)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'errors'.padStart(8)}`,
      row('alone', alone),
      row(`beside ${SLOWLORIS} slowloris and ${SLOW_BODIES} slow bodies`, beside),
      `p99 ratio: ${(beside.p99 / Math.max(alone.p99, 1)).toFixed(2)}; slow connections closed by the server meanwhile: ${lorises.state.closedByServer} slowloris, ${bodies.state.closedByServer} slow bodies`,
      '',
    ].join('\n'),
  );
} finally {
  await teardown();
  fs.rmSync(workDir, { recursive: true, force: true });
}
process.exit(0);
