// The body of a POST or PATCH: JSON in UTF-8 (RFC 9110 §8.3: application/json, with no parameter but charset=utf-8),
// at most BODY_MAX_BYTES, read whole or refused.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { HttpError } from './errors.js';
import { headerLines } from './http-protocol.js';
import { BODY_MAX_BYTES, bodyTooLarge } from './limits.js';

/** Reads the body whole (or refuses it: 413, or a client gone), for bodyBytesOf and parseJsonBody. */
export const readBody: RequestHandler = async (req, res, next) => {
  const contentTypes = headerLines(req, 'Content-Type');
  if (contentTypes.length > 1) throw new HttpError(400, 'invalid header', [{ field: 'Content-Type', message: 'must be given once' }]);
  res.locals.bodyBytes = await bodyOf(req);
  next();
};

/** The bytes of the body readBody read (an Idempotency-Key's fingerprint hashes them). */
export function bodyBytesOf(res: Response): Buffer {
  const bytes: unknown = res.locals.bodyBytes;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.alloc(0);
}

/**
 * The body readBody read, parsed; a 415 or 400 when it is not JSON in UTF-8. These come once the body is read whole,
 * so that an Idempotency-Key stores them as the request's answer.
 */
export function parseJsonBody(req: Request, res: Response): unknown {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    throw new HttpError(400, 'invalid body', [{ message: 'a JSON object is required' }]);
  }
  checkContentType(req.headers['content-type']);
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new HttpError(415, 'unsupported content encoding', [{ field: 'Content-Encoding', message: 'the body must be sent as is, without a content coding' }]);
  }
  const bytes = bodyBytesOf(res);
  if (!isUtf8(bytes)) throw new HttpError(400, 'invalid body', [{ message: 'must be valid UTF-8' }]);
  return parseJson(bytes.toString('utf8'));
}

function checkContentType(value: string | undefined): void {
  const [mediaType = '', ...parameters] = (value ?? '').split(';');
  const unsupported = (error: string, message: string): HttpError => new HttpError(415, error, [{ field: 'Content-Type', message }]);
  if (mediaType.trim().toLowerCase() !== 'application/json') throw unsupported('unsupported media type', 'must be application/json');
  const named = parameters.map((parameter) => parameter.trim()).filter((parameter) => parameter !== '');
  if (named.length === 0) return;
  if (named.length > 1 || !/^charset=/i.test(named[0] ?? '')) {
    throw unsupported('unsupported media type', 'application/json takes no parameter but one charset=utf-8');
  }
  if (!/^charset=(?:utf-8|"utf-8")$/i.test(named[0] ?? '')) {
    throw unsupported('unsupported charset', 'the body must be UTF-8: leave charset out or set it to utf-8');
  }
}

/** The whole body, or a 413 as soon as it passes the limit (the connection then closes, the rest unread). */
function bodyOf(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: () => void): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > BODY_MAX_BYTES) settle(() => { reject(bodyTooLarge()); });
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      settle(() => { resolve(Buffer.concat(chunks, size)); });
    };
    // The client went away before the end: nobody will read the answer.
    const aborted = (): HttpError => new HttpError(400, 'request aborted', [{ message: 'the body did not arrive whole' }]);
    const onError = (): void => {
      settle(() => { reject(aborted()); });
    };
    const onClose = (): void => {
      settle(() => { reject(aborted()); });
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** JSON.parse, with a syntax error as a 400. An empty body reads as {} (its fields are then missing). */
function parseJson(text: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, 'malformed JSON', [{ message: error instanceof Error ? error.message : 'not JSON' }]);
  }
}
