// GET /health: 200 while the database answers, 503 otherwise (the image's HEALTHCHECK and load balancers use it).
import type { RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { isConnected } from './db.js';

export function healthHandler(connection: Connection): RequestHandler {
  return async (_req, res) => {
    if (isConnected(connection) && (await pings(connection))) {
      res.json({ status: 'ok', database: 'ok' });
      return;
    }
    res.status(503).json({ status: 'unavailable', database: 'unreachable', error: 'database unreachable', details: [] });
  };
}

// The driver's state can lag an outage by a heartbeat, so ask the server itself.
async function pings(connection: Connection): Promise<boolean> {
  try {
    await connection.db?.admin().ping();
    return connection.db !== undefined;
  } catch {
    return false;
  }
}
