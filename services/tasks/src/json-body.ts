// The body of a POST or PATCH: JSON in UTF-8, at most BODY_MAX_BYTES, read whole or refused.
import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { HttpError } from './errors.js';
import { BODY_MAX_BYTES } from './limits.js';

// body-parser counts the limit on the bytes read, chunked or not, and stops reading at once past it (a 413). It would
// decode invalid UTF-8 into U+FFFD; `verify` sees the bytes before that.
const parseJson = express.json({
  limit: BODY_MAX_BYTES,
  verify: (_req, _res, bytes) => {
    if (!isUtf8(bytes)) throw new HttpError(400, 'invalid body', [{ message: 'must be valid UTF-8' }]);
  },
});

export const jsonBody: RequestHandler = (req, res, next) => {
  const type = req.is('application/json');
  if (type === null) throw new HttpError(400, 'invalid body', [{ message: 'a JSON object is required' }]);
  if (type === false) throw new HttpError(415, 'unsupported media type', [{ message: 'the Content-Type must be application/json' }]);
  // body-parser also takes UTF-16 and UTF-32; the contract takes UTF-8 only.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new HttpError(415, 'unsupported charset', [{ message: 'the body must be UTF-8; leave charset out or set it to utf-8' }]);
  }
  parseJson(req, res, next);
};
