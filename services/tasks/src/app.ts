// The express app: the JSON API for tasks, /health and /openapi.json. It does not listen: server.ts (or a test) runs
// it in http-server.ts's server.
import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import type winston from 'winston';
import { errorHandler, notFound } from './errors.js';
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
}

export function createApp({ logger, connection }: AppOptions): Express {
  const openapi = readFileSync(OPENAPI_PATH, 'utf8');
  const app = express();
  app.disable('x-powered-by');
  // Conditional requests are not part of the contract: no ETag, and never a 304 (express would answer one to
  // `If-None-Match: *` or a recent `If-Modified-Since`, even without an ETag).
  app.disable('etag');
  Object.defineProperty(app.request, 'fresh', { get: () => false });
  app.set('query parser', parseQueryString);

  app.use(requestLogger(logger));
  app.use(requestLimits);
  serveMethods(app, '/health', { GET: [rejectQuery, healthHandler(connection)] });
  serveMethods(app, '/openapi.json', {
    GET: [
      rejectQuery,
      (_req, res) => {
        res.type('application/json').send(openapi);
      },
    ],
  });
  app.use('/tasks', tasksRouter(connection));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
