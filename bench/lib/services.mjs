// Starting the two services, their baselines and the log receivers from the host toolchains, each on a free
// loopback port, with its output in a log file of the run's work folder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cpuSecondsOf, freePort, runCommand, startProcess, waitFor } from './processes.mjs';
import { BENCH, REPO, REQUESTS_DIR, TASKS_DIR, TASKS_NODE, VENV_GUNICORN, VENV_PYTHON } from './paths.mjs';

// Production's level (Pulumi.prod.yaml): every request is logged, as it would be in AWS.
const LOG_LEVEL = 'info';

/** `msk_` and 32 random bytes in unpadded base64url (docs/api.md § Authentication): a throwaway key of this run. */
const newKey = () => `msk_${crypto.randomBytes(32).toString('base64url')}`;
const BENCH_KEY = newKey();
/** What every bench request sends: the key of both services' caller `bench`, which may write. */
export const AUTHORIZATION = `Bearer ${BENCH_KEY}`;
/** The requests service's key to the tasks service, its caller `requests` there (TASKS_API_KEY). */
const REQUESTS_TASKS_KEY = newKey();

/** A callers file (API_KEYS) for `callers`: { id: [access, key] }, with the keys' SHA-256 digests only. */
function callersFile(callers) {
  const digest = (key) => crypto.createHash('sha256').update(key, 'ascii').digest('hex');
  const entries = Object.entries(callers).map(([id, [access, key]]) => [id, { access, keys: [digest(key)] }]);
  return JSON.stringify({ callers: Object.fromEntries(entries) });
}

/**
 * Compiles the tasks service with its own build settings (tsconfig.build.json, as `npm run build` does) into the
 * run's work folder rather than services/tasks/dist: others rebuild or clean that folder while they work, and a run
 * must not lose its service midway. The folder is laid out as services/tasks/ and the image are: dist/ beside
 * package.json ("type": "module"), openapi.json (which the service serves) and node_modules. Returns the entry point,
 * dist/src/server.js.
 */
export async function buildTasksService(workDir) {
  const root = path.join(workDir, 'tasks-build');
  await runCommand(path.join(TASKS_DIR, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', path.join(root, 'dist')], { cwd: TASKS_DIR });
  for (const file of ['package.json', 'openapi.json']) fs.copyFileSync(path.join(TASKS_DIR, file), path.join(root, file));
  fs.symlinkSync(path.join(TASKS_DIR, 'node_modules'), path.join(root, 'node_modules'));
  return path.join(root, 'dist/src/server.js');
}

/** The tasks service, `entry` from buildTasksService. `logseneUrl`: where its logs ship (a receiver, or a closed port). */
export async function startTasksService({ workDir, name, entry, mongoUrl, logseneUrl }) {
  const port = await freePort();
  const env = {
    ...hostEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    MONGODB_URI: mongoUrl,
    LOG_LEVEL,
    LOGSENE_TOKEN: 'bench-token',
    LOGSENE_URL: logseneUrl,
    API_KEYS: callersFile({ bench: ['write', BENCH_KEY], requests: ['read', REQUESTS_TASKS_KEY] }),
  };
  const started = startProcess(name, TASKS_NODE, [entry], { cwd: path.resolve(entry, '../../..'), env, logFile: logFileOf(workDir, name) });
  return serving(started, port, '/health');
}

/** The tasks baseline: node:http and the mongodb driver, on the same collection. */
export async function startTasksBaseline({ workDir, name, mongoUrl }) {
  const port = await freePort();
  const env = { ...hostEnv(), PORT: String(port), MONGODB_URI: mongoUrl };
  const script = path.join(BENCH, 'baselines/tasks-baseline.mjs');
  const started = startProcess(name, TASKS_NODE, [script], { cwd: BENCH, env, logFile: logFileOf(workDir, name) });
  return serving(started, port, '/tasks?limit=1');
}

/**
 * The requests service under gunicorn with its own gunicorn.conf.py, from services/requests/ as the image runs it,
 * bound to loopback only. With `baseline`, the same gunicorn settings serve the bare WSGI baseline instead.
 * `papertrail`: HOST:PORT its syslog goes to (a receiver, or a closed port).
 */
export async function startRequestsService({ workDir, name, databaseUrl, tasksUrl, papertrail, baseline = false }) {
  const port = await freePort();
  const env = {
    ...hostEnv(),
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    TASKS_URL: tasksUrl,
    TASKS_API_KEY: REQUESTS_TASKS_KEY,
    API_KEYS: callersFile({ bench: ['write', BENCH_KEY] }),
    LOG_LEVEL,
    // The Papertrail stand-in listens on UDP here; the service's default is TLS.
    ...(papertrail ? { PAPERTRAIL_DESTINATION: papertrail, PAPERTRAIL_PROTOCOL: 'udp' } : {}),
  };
  const app = baseline ? ['--pythonpath', path.join(BENCH, 'baselines'), 'requests_baseline:app'] : [];
  const args = ['--config', 'gunicorn.conf.py', '--bind', `127.0.0.1:${port}`, ...app];
  const started = startProcess(name, VENV_GUNICORN, args, { cwd: REQUESTS_DIR, env, logFile: logFileOf(workDir, name) });
  return serving(started, port, baseline ? '/requests?limit=1' : '/health');
}

/** The local Logsene (bulk API) and Papertrail (syslog) stand-ins; resolves once each says it is listening. */
export async function startLogReceivers(workDir) {
  const bulkPort = await freePort();
  const syslogPort = await freePort();
  const bulk = await startReceiver(workDir, 'bulk_receiver', bulkPort);
  const syslog = await startReceiver(workDir, 'syslog_receiver', syslogPort);
  return {
    logseneUrl: `http://127.0.0.1:${bulkPort}`,
    papertrail: `127.0.0.1:${syslogPort}`,
    /** What each stand-in received and the CPU it took, which on a small machine the services did not get. */
    usage: async () => ({
      logsene: { lines: countLines(path.join(workDir, 'bulk_receiver.jsonl')), cpuSeconds: await cpuSecondsOf(bulk.pid) },
      papertrail: { lines: countLines(path.join(workDir, 'syslog_receiver.jsonl')), cpuSeconds: await cpuSecondsOf(syslog.pid) },
    }),
  };
}

async function startReceiver(workDir, name, port) {
  const script = path.join(REPO, `scripts/receivers/${name}.py`);
  const args = [script, '--port', String(port), '--out', path.join(workDir, `${name}.jsonl`)];
  const started = startProcess(name, VENV_PYTHON, args, { cwd: REPO, env: hostEnv(), logFile: logFileOf(workDir, name) });
  await waitFor(name, () => {
    exitedEarly(started);
    return fs.readFileSync(started.logFile, 'utf8').includes('listening');
  });
  return started;
}

function countLines(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function serving(started, port, readyPath) {
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${started.name} at ${url}${readyPath}`, async () => {
    exitedEarly(started);
    return (await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(2000) })).status === 200;
  });
  return { url, port, process: started };
}

function exitedEarly(started) {
  if (started.child.exitCode !== null || started.child.signalCode !== null) {
    // fatal: waitFor stops retrying.
    throw Object.assign(new Error(`${started.name} exited at start; see ${started.logFile}`), { fatal: true });
  }
}

function logFileOf(workDir, name) {
  return path.join(workDir, `${name}.log`);
}

// A small, explicit environment: nothing from the caller's shell (a stray DATABASE_URL, say) leaks into a service.
function hostEnv() {
  return {
    PATH: `${path.dirname(VENV_PYTHON)}:${process.env.PATH}`,
    HOME: process.env.HOME ?? '/tmp',
    LANG: process.env.LANG ?? 'C.UTF-8',
  };
}
