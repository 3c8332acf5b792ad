#!/usr/bin/env node
// Load and fault figures for the tasks and requests services, on loopback, against their real databases.
// It starts everything it needs (throwaway FerretDB and PostgreSQL, the log receivers, the services and their
// baselines), prints one table per section, and stops everything at the end, also on failure or Ctrl-C.
// `node bench/run.mjs --help` lists the options.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequestsSchema, seedTasks, startFerretDb, startPostgres } from './lib/databases.mjs';
import { freePort, teardown } from './lib/processes.mjs';
import { renderReport } from './lib/report.mjs';
import { baselineLoad, databaseCrash, logSinkDown, normalLoad, sigtermUnderLoad } from './lib/sections.mjs';
import { TASKS_NODE } from './lib/paths.mjs';
import { buildTasksService, startLogReceivers, startTasksService } from './lib/services.mjs';
import { REQUESTS_SEEDED, requestsTarget, TASKS_SEEDED, tasksTarget } from './lib/targets.mjs';

const HELP = `Load and fault figures for the tasks and requests services (see bench/README.md).

  node bench/run.mjs [options]

  --only LIST         services to measure: tasks, requests (default: both)
  --parts LIST        parts to run: load, baseline, log-down, db-crash, sigterm (default: all)
  --duration S        seconds of load per run (default 20)
  --connections N     concurrent keep-alive connections (default 64)
  --warmup S          seconds of unmeasured load before each load run (default 2)
  --ferretdb BACKEND  where FerretDB keeps the tasks: sqlite or postgresql (default sqlite)
  --json              print the figures as JSON on stdout (the tables go to stderr)
  --keep              keep the work folder with every process's log
`;
const SERVICES = ['tasks', 'requests'];
const PARTS = ['load', 'baseline', 'log-down', 'db-crash', 'sigterm'];
const FERRETDB_BACKENDS = ['sqlite', 'postgresql'];
const startedAt = performance.now();

const options = parseOptions(process.argv.slice(2));
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
let failed = false;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    progress(`${signal}: stopping everything`);
    await teardown();
    progress(`logs kept in ${workDir}`);
    process.exit(130);
  });
}
process.on('uncaughtException', async (error) => {
  process.stderr.write(`bench: ${error.stack}\n`);
  await teardown();
  process.exit(1);
});

try {
  const results = await benchmark();
  const tables = renderReport(results);
  if (options.json) {
    process.stderr.write(`\n${tables}`);
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${tables}`);
  }
} catch (error) {
  failed = true;
  process.stderr.write(`bench: ${error.stack}\n`);
  process.exitCode = 1;
} finally {
  await teardown();
  if (failed || options.keep) progress(`logs kept in ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true });
}
// A load cut short by a failure may still hold timers and sockets; everything it loaded is stopped by now.
process.exit(process.exitCode ?? 0);

async function benchmark() {
  const results = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model.trim(),
      node: process.version,
      tasksNode: execFileSync(TASKS_NODE, ['--version'], { encoding: 'utf8' }).trim(),
    },
    settings: {
      connections: options.connections,
      duration: options.duration,
      warmup: options.warmup,
      seeded: { tasks: TASKS_SEEDED, requests: REQUESTS_SEEDED },
      ferretdb: options.ferretdb,
    },
    services: {},
  };

  progress('building the tasks service (tsc -p tsconfig.build.json, into the work folder)');
  const tasksEntry = await buildTasksService(workDir);
  progress(`starting the log receivers and FerretDB (${options.ferretdb})`);
  const receivers = await startLogReceivers(workDir);
  // One PostgreSQL, when needed: the requests service's database, and FerretDB's storage with --ferretdb postgresql.
  const needsPostgres = options.only.includes('requests') || options.ferretdb === 'postgresql';
  const postgres = needsPostgres ? await startPostgres(path.join(workDir, 'postgres'), await freePort()) : undefined;
  const ferretDb = await startFerretDb(path.join(workDir, 'ferretdb'), await freePort(), options.ferretdb === 'postgresql' ? postgres.url : undefined);

  if (options.only.includes('tasks')) {
    const target = tasksTarget({ workDir, tasksEntry, ferretDb, mongoUrl: `${ferretDb.url}tasks`, receivers });
    results.services.tasks = await runParts(target);
  }

  if (options.only.includes('requests')) {
    progress('starting the tasks service the requests service checks tasks with');
    await createRequestsSchema(postgres.url);
    // Its own database, so the tasks runs above and this one never share rows.
    const upstreamUrl = `${ferretDb.url}tasks_upstream`;
    const taskIds = await seedTasks(upstreamUrl, TASKS_SEEDED);
    const upstream = await startTasksService({
      workDir,
      name: 'tasks-upstream',
      entry: tasksEntry,
      mongoUrl: upstreamUrl,
      logseneUrl: receivers.logseneUrl,
    });
    const target = requestsTarget({ workDir, postgres, tasksUrl: upstream.url, taskIds, receivers });
    results.services.requests = await runParts(target);
    await upstream.process.stop();
  }

  results.logReceivers = await receivers.usage();
  return results;
}

async function runParts(target) {
  const result = { stack: target.stack, baselineStack: target.baselineStack };
  const part = async (name, run) => {
    if (!options.parts.includes(name)) return undefined;
    progress(`${target.name}: ${name}`);
    const figures = await run(target, options);
    progress(`${target.name}: ${name} done: ${summary(figures)}`);
    return figures;
  };

  result.load = await part('load', normalLoad);
  result.baseline = await part('baseline', baselineLoad);
  if (result.load && result.baseline) {
    result.ratio = { rps: result.load.rps / result.baseline.rps, p99: result.load.p99 / result.baseline.p99 };
  }
  result.logSinkDown = await part('log-down', logSinkDown);
  if (result.logSinkDown) result.logSinkDown.p99VsNormal = result.load ? result.logSinkDown.p99 / result.load.p99 : null;
  result.databaseCrash = await part('db-crash', databaseCrash);
  result.sigterm = await part('sigterm', sigtermUnderLoad);
  return result;
}

function summary(figures) {
  const load = figures.load ?? figures;
  const parts = [];
  if (load.rps !== undefined) parts.push(`${Math.round(load.rps)} req/s, p99 ${load.p99} ms, ${load.errors} errors`);
  if (figures.acknowledgedWritesLost !== undefined) parts.push(`${figures.acknowledgedWritesLost} acknowledged writes lost`);
  if (figures.inFlightFailed !== undefined) parts.push(`${figures.inFlightFailed} in-flight failed, exit in ${figures.exitSeconds} s`);
  return parts.join('; ');
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: SERVICES.join(',') },
      parts: { type: 'string', default: PARTS.join(',') },
      duration: { type: 'string', default: '20' },
      connections: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '2' },
      ferretdb: { type: 'string', default: FERRETDB_BACKENDS[0] },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const list = (name, allowed) => {
    const chosen = values[name].split(',').map((item) => item.trim()).filter(Boolean);
    const unknown = chosen.filter((item) => !allowed.includes(item));
    if (unknown.length > 0 || chosen.length === 0) usage(`--${name} takes a comma-separated list of: ${allowed.join(', ')}`);
    return chosen;
  };
  const one = (name, allowed) => {
    if (!allowed.includes(values[name])) usage(`--${name} takes one of: ${allowed.join(', ')}`);
    return values[name];
  };
  const number = (name, min, max) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) usage(`--${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  return {
    only: list('only', SERVICES),
    parts: list('parts', PARTS),
    duration: number('duration', 8, 600),
    connections: number('connections', 1, 1000),
    warmup: number('warmup', 0, 60),
    ferretdb: one('ferretdb', FERRETDB_BACKENDS),
    json: values.json,
    keep: values.keep,
  };
}

function usage(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function progress(message) {
  const elapsed = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${elapsed} s] ${message}\n`);
}
