// The contract's limits on a request as a whole (docs/api.md §Errors), checked before any route sees it.
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

export const REQUEST_TARGET_MAX_BYTES = 4096;
export const HEADERS_MAX_BYTES = 16 * 1024;
export const HEADER_MAX_BYTES = 8 * 1024;
/** Header fields, as gunicorn (the requests service's server) and Apache count them by default. */
export const HEADER_COUNT_MAX = 100;
export const BODY_MAX_BYTES = 64 * 1024;

export function targetTooLong(): HttpError {
  return new HttpError(414, 'request target too long', [{ message: `the path and query must be at most ${REQUEST_TARGET_MAX_BYTES} bytes` }]);
}

/** A body over the limit: answered before the rest is read, so the connection then closes. */
export function bodyTooLarge(): HttpError {
  return new HttpError(413, 'request body too large', [{ message: `the body must be at most ${BODY_MAX_BYTES} bytes` }], { Connection: 'close' });
}

export function headersTooLarge(): HttpError {
  return new HttpError(431, 'request headers too large', [
    {
      message:
        `headers must be at most ${HEADERS_MAX_BYTES} bytes in all and ${HEADER_MAX_BYTES} bytes each, ` +
        `and at most ${HEADER_COUNT_MAX} fields`,
    },
  ]);
}

/** A header line's size on the wire: `name: value` and its CRLF. Node keeps header bytes as latin1, one per char. */
function headerLineBytes(name: string, value: string): number {
  return name.length + value.length + 4;
}

/** 414 and 431, whatever the route. */
export const requestLimits: RequestHandler = (req, _res, next) => {
  if (req.url.length > REQUEST_TARGET_MAX_BYTES) throw targetTooLong();
  if (req.rawHeaders.length / 2 > HEADER_COUNT_MAX) throw headersTooLarge();
  let total = 0;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const line = headerLineBytes(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '');
    if (line > HEADER_MAX_BYTES) throw headersTooLarge();
    total += line;
  }
  if (total > HEADERS_MAX_BYTES) throw headersTooLarge();
  next();
};
