// Caller authentication (docs/api.md § Authentication): every request but the public ones needs a known key, and a
// caller that may only read cannot write. Checked after the HTTP-level checks and before routing, so a path that is
// no route gets 401 without a key too. The key itself is never kept, logged or echoed.
import type { Request, RequestHandler, Response } from 'express';
import { KEY_PATTERN, type Caller, type Callers } from './callers.js';
import { HttpError } from './errors.js';
import { headerLines } from './http-protocol.js';

const REALM = 'Bearer realm="tasks"';
const PUBLIC_PATHS = new Set(['/health', '/openapi.json']);
/** Reading; everything else is writing. The public paths are public to reading only. */
const READING_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SCHEME = 'bearer ';

export function authenticate(callers: Callers): RequestHandler {
  return (req, res, next) => {
    if (PUBLIC_PATHS.has(req.path) && READING_METHODS.has(req.method)) {
      next();
      return;
    }
    const refused = refusal(req, res, callers);
    if (refused === undefined) {
      next();
      return;
    }
    // A refused request's body is never read, and the connection it came on closes instead.
    if (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0) {
      res.setHeader('Connection', 'close');
    }
    throw refused;
  };
}

/** Why `req` may not go on, or undefined when its caller may; the caller is recorded for the log line. */
function refusal(req: Request, res: Response, callers: Callers): HttpError | undefined {
  const values = headerLines(req, 'Authorization');
  if (values.length === 0) return unauthorized(REALM, 'a key is required: Authorization: Bearer <key>');
  const [value = ''] = values;
  // RFC 6750 §2.1: the scheme in any case, one space, the key.
  const key = value.slice(SCHEME.length);
  if (values.length > 1 || value.slice(0, SCHEME.length).toLowerCase() !== SCHEME || !KEY_PATTERN.test(key)) {
    return unauthorized(`${REALM}, error="invalid_request"`, 'must be Bearer <key>');
  }
  const caller = callers.find(key);
  if (caller === undefined) return unauthorized(`${REALM}, error="invalid_token"`, 'is not a known key');
  res.locals.caller = caller;
  if (caller.access === 'read' && !READING_METHODS.has(req.method)) {
    return new HttpError(403, 'forbidden', [{ message: `caller ${caller.id} may only read` }]);
  }
  return undefined;
}

function unauthorized(challenge: string, message: string): HttpError {
  return new HttpError(401, 'unauthorized', [{ field: 'Authorization', message }], { 'WWW-Authenticate': challenge });
}

/** The caller that made the request, for its log line; null when it carried no valid key or needed none. */
export function callerOf(res: Response): string | null {
  const caller = res.locals.caller as Caller | undefined;
  return caller?.id ?? null;
}
