// GET /health: 200 while the database answers, 503 otherwise (the image's HEALTHCHECK and load balancers use it).
import type { RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import type { DatabaseCalls } from './database-calls.js';

export function healthHandler(connection: Connection, database: DatabaseCalls): RequestHandler {
  return async (_req, res) => {
    if (await pings(connection, database)) {
      res.json({ status: 'ok', database: 'ok' });
      return;
    }
    res.status(503).json({ status: 'unavailable', database: 'unreachable', error: 'database unreachable', details: [] });
  };
}

// The driver's state can lag an outage by a heartbeat, so ask the server itself, within a request's time.
async function pings(connection: Connection, database: DatabaseCalls): Promise<boolean> {
  try {
    return (await database.begin().read(async () => connection.db?.admin().ping())) !== undefined;
  } catch {
    return false;
  }
}
