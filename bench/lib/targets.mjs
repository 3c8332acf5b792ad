// What the sections need to know about each service: how to seed its database, start it and its baseline, and
// look its writes up afterwards.
import {
  appliedRequestWrites,
  appliedTaskWrites,
  lostRequestWrites,
  lostTaskWrites,
  seedRequests,
  seedTasks,
} from './databases.mjs';
import { requestsWorkload, tasksWorkload } from './workloads.mjs';
import { startRequestsService, startTasksBaseline, startTasksService } from './services.mjs';

/** Seeded rows before every run: enough that reads spread out and updates never run short of fresh rows. */
export const TASKS_SEEDED = 200;
export const REQUESTS_SEEDED = 2000;

/** `tasksEntry`: the built tasks service (services.mjs buildTasksService). */
export function tasksTarget({ workDir, tasksEntry, ferretDb, mongoUrl, receivers }) {
  return {
    name: 'tasks',
    stack: 'express 5 + mongoose 9',
    baselineStack: 'node:http + mongodb driver',
    signalled: 'node process',
    database: ferretDb,
    seed: async () => tasksWorkload(await seedTasks(mongoUrl, TASKS_SEEDED)),
    startService: ({ name, closedLogPort }) =>
      startTasksService({
        workDir,
        name,
        entry: tasksEntry,
        mongoUrl,
        logseneUrl: closedLogPort ? `http://127.0.0.1:${closedLogPort}` : receivers.logseneUrl,
      }),
    startBaseline: ({ name }) => startTasksBaseline({ workDir, name, mongoUrl }),
    lostWrites: (acknowledged) => lostTaskWrites(mongoUrl, acknowledged),
    appliedWrites: (unanswered) => appliedTaskWrites(mongoUrl, unanswered),
    // The service logs a request it had started and could not finish as "request aborted".
    abortedInLog: /"message":"request aborted"/,
  };
}

/** `tasksUrl`: a running tasks service that has the tasks `taskIds`; creates check their task with it. */
export function requestsTarget({ workDir, postgres, tasksUrl, taskIds, receivers }) {
  const start = (name, extra) => startRequestsService({ workDir, name, databaseUrl: postgres.url, tasksUrl, ...extra });
  return {
    name: 'requests',
    stack: 'Flask 3 on gunicorn (gthread)',
    baselineStack: 'bare WSGI + psycopg2 on the same gunicorn settings',
    signalled: 'gunicorn master',
    database: postgres,
    seed: async () => requestsWorkload(await seedRequests(postgres.url, REQUESTS_SEEDED, taskIds), taskIds),
    startService: ({ name, closedLogPort }) =>
      start(name, { papertrail: closedLogPort ? `127.0.0.1:${closedLogPort}` : receivers.papertrail }),
    startBaseline: ({ name }) => start(name, { baseline: true }),
    lostWrites: (acknowledged) => lostRequestWrites(postgres.url, acknowledged),
    appliedWrites: (unanswered) => appliedRequestWrites(postgres.url, unanswered),
    // gunicorn logs a request that failed in a worker, or a worker killed while busy.
    abortedInLog: /Error handling request|WORKER TIMEOUT|Traceback/,
  };
}
