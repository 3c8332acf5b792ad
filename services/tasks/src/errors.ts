// The API's error shape, `{ error, details, details_omitted? }` (docs/api.md §Errors), and the one place that turns any
// failure into such an answer.
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type winston from 'winston';

/** An error body lists at most this many details, so that it stays small whatever the request. */
export const DETAILS_MAX = 20;

export interface ErrorDetail {
  /** The body field, query parameter, path parameter or header at fault; left out when no single field is. */
  field?: string;
  message: string;
}

/** A detail about `field`, which is left out when it is empty or unknown: `field` is never empty. */
export function detailAbout(field: string | undefined, message: string): ErrorDetail {
  return field ? { field, message } : { message };
}

export interface ErrorBody {
  error: string;
  details: ErrorDetail[];
  /** How many problems were found beyond the DETAILS_MAX listed. */
  details_omitted?: number;
}

/** An answer to send as is: thrown by routes and middleware, caught by `errorHandler`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
    /** What went wrong underneath, for the log (a 503's driver error). */
    cause?: Error,
  ) {
    super(error, { cause });
    this.name = 'HttpError';
  }

  /** The JSON answer, with at most DETAILS_MAX details. */
  toBody(): ErrorBody {
    const listed = this.details.slice(0, DETAILS_MAX);
    const omitted = this.details.length - listed.length;
    return omitted > 0 ? { error: this.error, details: listed, details_omitted: omitted } : { error: this.error, details: listed };
  }
}

/** Sends `answer` as the whole response: on express's response or on a plain Node one (http-server.ts). */
export function sendError(res: ServerResponse, answer: HttpError): void {
  const text = JSON.stringify(answer.toBody());
  res.writeHead(answer.status, {
    ...answer.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  // Node leaves the body out of an answer to HEAD by itself.
  res.end(text);
}

/** A 503 that changed nothing: the database was not asked, or refused. */
export function databaseUnavailable(cause?: Error): HttpError {
  return new HttpError(503, 'database unreachable', [{ message: 'the database cannot be reached; nothing was changed; retry later' }], {}, cause);
}

/** A 503 after a change was sent to the database, which did not confirm it in time. */
export function outcomeUnknown(cause?: Error): HttpError {
  return new HttpError(503, 'outcome unknown', [
    {
      message:
        'the database did not confirm the change in time: it may or may not have been applied. A retry with the same ' +
        'Idempotency-Key is safe; a PATCH or DELETE may simply be repeated',
    },
  ], {}, cause);
}

export function notFoundError(method: string, path: string): HttpError {
  return new HttpError(404, 'not found', [{ message: `no route for ${method} ${path}` }]);
}

/** Any route nobody serves. */
export const notFound: RequestHandler = (req) => {
  throw notFoundError(req.method, req.path);
};

/** Paths have no trailing slash: /tasks/ is not /tasks, whatever the route. */
export const trailingSlash: RequestHandler = (req, _res, next) => {
  if (req.path.length > 1 && req.path.endsWith('/')) throw notFoundError(req.method, req.path);
  next();
};

export function errorHandler(logger: winston.Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a clean answer: express's default handler closes the connection.
      next(error);
      return;
    }
    if (error instanceof HttpError) {
      if (error.cause !== undefined) {
        const reason = error.cause instanceof Error ? error.cause.message : 'unknown';
        logger.warn('database unreachable during a request', { method: req.method, path: req.path, answer: error.error, reason });
      }
      sendError(res, error);
      return;
    }
    // Every expected failure is an HttpError by now: this one is a bug, and needs its cause next to its log line.
    const cause = error instanceof Error ? { reason: error.message, stack: error.stack } : { reason: String(error) };
    logger.error('unexpected error', { method: req.method, path: req.path, ...cause });
    sendError(res, new HttpError(500, 'internal error'));
  };
}
