// The benchmark's parts. Each reseeds the database, starts what it loads, runs the load, stops it again and returns
// its figures. A target (targets.mjs) says how, for one service.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad } from './load.mjs';
import { startShutdownLoad } from './shutdown-load.mjs';
import { connectionsPerProcess, freePort } from './processes.mjs';

/** The service under the mixed workload, its logs going to the local receiver. */
export async function normalLoad(target, options) {
  const workload = await target.seed();
  return withServer(target.startService({ name: `${target.name}-load` }), (server) => measuredLoad(server, workload, options));
}

/** The same workload against the baseline: the database driver alone behind the language's bare HTTP server. */
export async function baselineLoad(target, options) {
  const workload = await target.seed();
  return withServer(target.startBaseline({ name: `${target.name}-baseline` }), (server) => measuredLoad(server, workload, options));
}

/** The service with its log sink pointing at a closed loopback port. */
export async function logSinkDown(target, options) {
  const workload = await target.seed();
  // Taken right before the start and never handed out again in this run, so it stays closed.
  const closedPort = await freePort();
  const starting = target.startService({ name: `${target.name}-log-down`, closedLogPort: closedPort });
  const figures = await withServer(starting, (server) => measuredLoad(server, workload, options));
  return { ...figures, sink: `127.0.0.1:${closedPort} (closed)` };
}

/**
 * The database crashed (kill -9) a quarter into the load and restarted a few seconds later. Every answer is
 * timestamped, so the outage's errors and the recovery can be read off; afterwards every write the load saw
 * acknowledged is looked up in the database.
 */
export async function databaseCrash(target, options) {
  const workload = await target.seed();
  const killAfter = options.duration / 4;
  const downFor = Math.min(5, options.duration / 4);
  const answers = [];
  const observe = (status) => answers.push({ at: performance.now(), status });

  const timeline = await withServer(target.startService({ name: `${target.name}-db-crash` }), async (server) => {
    const load = runLoad({ baseUrl: server.url, workload, ...loadSettings(options), warmup: 0, observe });
    await sleep(killAfter * 1000);
    const killedAt = performance.now();
    target.database.crash();
    await sleep(downFor * 1000);
    await target.database.restart(); // returns once the database accepts connections again
    const restartedAt = performance.now();
    return { figures: await load, killedAt, restartedAt };
  });

  const lost = await target.lostWrites(workload.writes.acknowledged);
  return {
    database: target.database.kind,
    ...recoveryOf(answers, timeline),
    acknowledgedWrites: workload.writes.acknowledged.created.length + workload.writes.acknowledged.updated.length,
    acknowledgedWritesLost: lost.created.length + lost.updated.length,
    lostIds: lost,
    load: timeline.figures,
  };
}

function recoveryOf(answers, { killedAt, restartedAt }) {
  const failed = (answer) => answer.status < 200 || answer.status >= 300;
  const seconds = (from, to) => (to === undefined ? null : round((to - from) / 1000, 2));
  const afterKill = answers.filter((answer) => answer.at >= killedAt);
  const failures = afterKill.filter(failed);
  const failuresByStatus = {};
  for (const { status } of failures) {
    const key = status === 0 ? 'socket error or timeout' : String(status);
    failuresByStatus[key] = (failuresByStatus[key] ?? 0) + 1;
  }
  const lastFailure = failures.at(-1);
  return {
    downForSeconds: seconds(killedAt, restartedAt),
    errorsBeforeCrash: answers.filter((answer) => answer.at < killedAt && failed(answer)).length,
    errorsDuringOutage: failures.length,
    failuresByStatus,
    firstErrorAfterCrashSeconds: seconds(killedAt, failures[0]?.at),
    // The recovery: from the moment the database accepts connections again.
    first2xxAfterRestartSeconds: seconds(restartedAt, answers.find((a) => a.at >= restartedAt && !failed(a))?.at),
    lastErrorAfterRestartSeconds: lastFailure && lastFailure.at > restartedAt ? seconds(restartedAt, lastFailure.at) : 0,
  };
}

/**
 * SIGTERM to the service (the node process; gunicorn's master) while the load runs. The load goes on until the
 * service has exited, so that refused and reset connections after the signal are seen and sorted.
 */
export async function sigtermUnderLoad(target, options) {
  const workload = await target.seed();
  const server = await target.startService({ name: `${target.name}-sigterm` });
  const load = startShutdownLoad({ baseUrl: server.url, workload, connections: options.connections });
  let figures;
  try {
    await sleep(3000);
    const answeredBefore = load.tally.answered2xx + load.tally.answered4xx;
    const failedBefore = load.tally.failedInFlight;
    const signalledAt = performance.now();
    process.kill(server.process.pid, 'SIGTERM');
    const exit = await Promise.race([server.process.exited, sleep(20_000).then(() => null)]);
    await sleep(500); // connections keep being tried, and refused, after the exit
    const tally = await load.stop();
    figures = {
      signalled: target.signalled,
      exitSeconds: exit ? round((exit.at - signalledAt) / 1000, 2) : null,
      exitCode: exit ? (exit.code ?? exit.signal) : 'still running after 20 s',
      answeredAfterSigterm: tally.answered2xx + tally.answered4xx - answeredBefore,
      lastAnswerAfterSigtermSeconds: tally.lastAnswerAt > signalledAt ? round((tally.lastAnswerAt - signalledAt) / 1000, 2) : 0,
      failedBeforeSigterm: failedBefore,
      tally,
    };
  } finally {
    await load.stop();
    await server.process.stop();
  }
  // The requests that got no answer at all: the writes among them must not be in the database, or the service had
  // them in hand after all.
  const applied = await target.appliedWrites(workload.writes.unanswered);
  const lost = await target.lostWrites(workload.writes.acknowledged);
  const unansweredWrites = workload.writes.unanswered.created.length + workload.writes.unanswered.updated.length;
  return {
    ...figures,
    abortedInServerLog: countMatchingLines(server.process.logFile, target.abortedInLog),
    refused: figures.tally.refused,
    closedUnread: figures.tally.closedUnreadReused + figures.tally.closedUnreadFresh,
    unansweredWrites,
    unansweredWritesApplied: applied.created + applied.updated,
    inFlightFailed: figures.tally.failedInFlight + applied.created + applied.updated,
    acknowledgedWritesLost: lost.created.length + lost.updated.length,
  };
}

// The load, and how its connections were spread over the server's processes halfway through: gunicorn's workers
// each take what they accept, and keep-alive connections stay where they landed for the whole run.
async function measuredLoad(server, workload, options) {
  const load = runLoad({ baseUrl: server.url, workload, ...loadSettings(options) });
  const spread = sleep((options.warmup + options.duration / 2) * 1000).then(() => connectionsPerProcess(server.port));
  return { ...(await load), connectionsPerProcess: await spread };
}

async function withServer(starting, work) {
  const server = await starting;
  try {
    return await work(server);
  } finally {
    await server.process.stop();
  }
}

function countMatchingLines(file, pattern) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((line) => pattern.test(line)).length;
}

function loadSettings(options) {
  return { connections: options.connections, duration: options.duration, warmup: options.warmup };
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}
