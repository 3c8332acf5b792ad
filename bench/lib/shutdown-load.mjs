// The load for the SIGTERM run. autocannon cannot be used here: when a server closes a connection it reconnects
// without counting the request that was on it, and it does not tell a refused connection from a reset one. This
// client runs the same workload cycle on node:http and sorts the fate of every request:
//   answered        a complete answer (2xx, or 4xx counted apart)
//   failedInFlight  a 5xx, an answer cut off midway, or no answer within the timeout: the service had the request
//                   and did not finish it. Must be 0.
//   refused         ECONNREFUSED: a new connection after the service stopped listening; not in flight.
//   closedUnread    the connection closed before a single byte of answer: a keep-alive connection the server
//                   closed as idle while the request was on its way (reusedSocket), or a connection still in the
//                   listen queue when the listener closed. The server never read these; the writes among them are
//                   checked in the database afterwards to prove it (a write found there was in flight after all).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { headersFor } from './workloads.mjs';

const TIMEOUT_MS = 10_000;

/** Starts `connections` loops, each with one keep-alive connection; `stop()` ends them and resolves to the tally. */
export function startShutdownLoad({ baseUrl, workload, connections }) {
  const tally = {
    sent: 0,
    answered2xx: 0,
    answered4xx: 0,
    failedInFlight: 0,
    failedInFlightKinds: {},
    refused: 0,
    closedUnreadReused: 0,
    closedUnreadFresh: 0,
    lastAnswerAt: 0,
  };
  let stopping = false;

  async function loop() {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let step = 0; !stopping; step = (step + 1) % workload.cycle.length) {
      const operation = workload.cycle[step];
      const built = operation.request();
      tally.sent++;
      const outcome = await send(agent, baseUrl, built);
      if (outcome.complete) {
        if (outcome.status >= 500) fail(`HTTP ${outcome.status}`);
        else if (outcome.status >= 400) tally.answered4xx++;
        else tally.answered2xx++;
        tally.lastAnswerAt = performance.now();
        operation.answered(built, outcome.status, outcome.body);
      } else if (outcome.code === 'ECONNREFUSED') {
        tally.refused++;
        await sleep(20); // the service is gone; do not spin the CPU the others still need
      } else if (outcome.gotBytes || outcome.code === 'TIMEOUT') {
        fail(outcome.gotBytes ? 'answer cut off' : 'no answer within 10 s');
      } else {
        if (outcome.reusedSocket) tally.closedUnreadReused++;
        else tally.closedUnreadFresh++;
        workload.writes.recordUnanswered(built);
      }
    }
    agent.destroy();
  }

  function fail(kind) {
    tally.failedInFlight++;
    tally.failedInFlightKinds[kind] = (tally.failedInFlightKinds[kind] ?? 0) + 1;
  }

  const loops = Array.from({ length: connections }, loop);
  return {
    tally,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return tally;
    },
  };
}

/** One request; resolves (never rejects) to { complete, status, body } or { complete: false, code, gotBytes, reusedSocket }. */
function send(agent, baseUrl, built) {
  return new Promise((resolve) => {
    let settled = false;
    let gotBytes = false;
    const settle = (outcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const request = http.request(`${baseUrl}${built.path}`, { method: built.method, agent, headers: headersFor(built) });
    request.setTimeout(TIMEOUT_MS, () => request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    request.on('response', (response) => {
      gotBytes = true;
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        // 'end' also follows an abort in some Node versions; `complete` says whether the whole body came.
        if (response.complete) settle({ complete: true, status: response.statusCode, body: Buffer.concat(chunks).toString() });
        else settle({ complete: false, code: 'ECONNRESET', gotBytes, reusedSocket: request.reusedSocket });
      });
      response.on('error', (error) => settle({ complete: false, code: error.code, gotBytes, reusedSocket: request.reusedSocket }));
    });
    request.on('error', (error) => settle({ complete: false, code: error.code, gotBytes, reusedSocket: request.reusedSocket }));
    request.end(built.body);
  });
}
