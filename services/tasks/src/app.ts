// The express app: the JSON API for tasks, /health and /openapi.json, for known callers. It does not listen: server.ts
// (or a test) runs it in http-server.ts's server.
import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import type winston from 'winston';
import { authenticate } from './authentication.js';
import type { Callers } from './callers.js';
import { DatabaseCalls } from './database-calls.js';
import { errorHandler, notFound, trailingSlash } from './errors.js';
import { healthHandler } from './health.js';
import { requestLimits } from './limits.js';
import { serveMethods } from './methods.js';
import { parseQueryString } from './query-string.js';
import { requestLogger } from './request-logger.js';
import { tasksRouter } from './tasks-router.js';
import { rejectQuery } from './validation.js';

/** The contract, beside package.json: two folders up from dist/src/ here and in the image. */
export const OPENAPI_PATH = new URL('../../openapi.json', import.meta.url);

export interface AppOptions {
  logger: winston.Logger;
  /** The database connection, open or not: routes answer 503 while it is down. */
  connection: Connection;
  /** Who may call the routes that need a key (all but /health and /openapi.json). */
  callers: Callers;
  /** The time tasks and Idempotency-Keys are stamped with; the system clock unless a test moves it on. */
  clock?: () => Date;
}

export function createApp({ logger, connection, callers, clock = () => new Date() }: AppOptions): Express {
  const openapi = readFileSync(OPENAPI_PATH, 'utf8');
  const database = new DatabaseCalls(connection);
  const app = express();
  app.disable('x-powered-by');
  // Paths are case-sensitive: /TASKS is not /tasks.
  app.set('case sensitive routing', true);
  // Conditional requests are not part of the contract: no ETag, and never a 304 (express would answer one to
  // `If-None-Match: *` or a recent `If-Modified-Since`, even without an ETag).
  app.disable('etag');
  Object.defineProperty(app.request, 'fresh', { get: () => false });
  app.set('query parser', parseQueryString);

  app.use(requestLogger(logger));
  app.use(requestLimits);
  // Before routing: a path that is no route gets 401 without a key, as a route does, and reveals nothing.
  app.use(authenticate(callers));
  app.use(trailingSlash);
  serveMethods(app, '/health', { GET: [rejectQuery, healthHandler(connection, database)] });
  serveMethods(app, '/openapi.json', {
    GET: [
      rejectQuery,
      (_req, res) => {
        res.type('application/json').send(openapi);
      },
    ],
  });
  app.use('/tasks', tasksRouter(connection, database, clock));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
