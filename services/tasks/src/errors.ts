// The API's error shape, `{ error, details }` (docs/api.md §Errors), and the one place that turns any failure into
// such an answer.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type winston from 'winston';
import { isDatabaseUnavailable } from './db.js';

export interface ErrorDetail {
  /** The body field, query parameter or path parameter at fault; left out when no single field is. */
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
}

/** An answer to send as is: thrown by routes and middleware, caught by `errorHandler`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(error);
    this.name = 'HttpError';
  }

  /** The JSON answer. (Not `body`: body-parser sets a `body` property on the errors it passes on.) */
  toBody(): ErrorBody {
    return { error: this.error, details: this.details };
  }
}

export function databaseUnavailable(): HttpError {
  return new HttpError(503, 'database unreachable', [{ message: 'the database cannot be reached; retry later' }]);
}

export function notFoundError(method: string, path: string): HttpError {
  return new HttpError(404, 'not found', [{ message: `no route for ${method} ${path}` }]);
}

/** Any route nobody serves. */
export const notFound: RequestHandler = (req) => {
  throw notFoundError(req.method, req.path);
};

// Errors from express.json() (body-parser, through http-errors) carry a 4xx `status` and `expose: true`: the client's
// mistakes. Most also name a `type`; a corrupt compressed body does not.
interface ClientError extends Error {
  status: number;
  expose: true;
  type?: string;
}

function isClientError(error: unknown): error is ClientError {
  if (!(error instanceof Error)) return false;
  const { status, expose } = error as Partial<ClientError>;
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true;
}

const bodyParserErrors: Record<string, string> = {
  'entity.parse.failed': 'malformed JSON',
  'entity.too.large': 'request body too large',
  'charset.unsupported': 'unsupported charset',
  'encoding.unsupported': 'unsupported content encoding',
  'request.aborted': 'request aborted',
  'request.size.invalid': 'request size did not match Content-Length',
};

function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (isClientError(error)) {
    const name = (error.type && bodyParserErrors[error.type]) ?? 'unreadable body';
    return new HttpError(error.status, name, [{ message: error.message }]);
  }
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return undefined;
}

export function errorHandler(logger: winston.Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a clean answer: express's default handler closes the connection.
      next(error);
      return;
    }
    const answer = toHttpError(error) ?? new HttpError(500, 'internal error');
    if (answer.status >= 500) {
      // Client mistakes are already in the request log line; these need their cause next to it.
      const cause = error instanceof Error ? { reason: error.message, stack: error.stack } : { reason: String(error) };
      if (isDatabaseUnavailable(error)) logger.warn('database unreachable during a request', { method: req.method, path: req.path, reason: cause.reason });
      else if (!(error instanceof HttpError)) logger.error('unexpected error', { method: req.method, path: req.path, ...cause });
    }
    res.status(answer.status).set(answer.headers).json(answer.toBody());
  };
}
