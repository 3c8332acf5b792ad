// The express app: JSON API for tasks plus /health. It does not listen: server.ts (or a test) does.
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import type winston from 'winston';
import { errorHandler, notFound } from './errors.js';
import { healthHandler } from './health.js';
import { requestLogger } from './request-logger.js';
import { tasksRouter } from './tasks-router.js';

/** Largest JSON body accepted; a task with the longest title and description fits well within it. */
export const BODY_LIMIT = '16kb';

export interface AppOptions {
  logger: winston.Logger;
  /** The database connection, open or not: routes answer 503 while it is down. */
  connection: Connection;
}

export function createApp({ logger, connection }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use(requestLogger(logger));
  app.use(express.json({ limit: BODY_LIMIT }));
  app.get('/health', healthHandler(connection));
  app.use('/tasks', tasksRouter(connection));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
