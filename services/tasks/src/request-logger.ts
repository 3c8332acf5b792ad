// Logs every request once it is answered (or abandoned): method, path, status, duration and caller. Never a header:
// the Authorization header holds a key.
import type { RequestHandler } from 'express';
import type winston from 'winston';
import { callerOf } from './authentication.js';

export function requestLogger(logger: winston.Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // The path only: query strings are the client's business and not needed to follow a request.
    const path = req.originalUrl.split('?', 1)[0];
    const log = (aborted: boolean): void => {
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const level = res.statusCode >= 500 ? 'warn' : 'info';
      logger.log(level, aborted ? 'request aborted' : 'request', { method: req.method, path, status: res.statusCode, durationMs, caller: callerOf(res) });
    };
    res.once('finish', () => {
      log(false);
    });
    res.once('close', () => {
      if (!res.writableFinished) log(true);
    });
    next();
  };
}
