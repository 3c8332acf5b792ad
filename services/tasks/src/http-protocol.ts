// The HTTP/1.1 rules the service applies to a request before the app sees it (docs/api.md § HTTP semantics; RFC 9110
// and RFC 9112), and the answers to requests Node's parser refuses. The server closes the connection after each.
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { HttpError } from './errors.js';
import { firstLineHadVersion } from './http-version.js';
import { BODY_MAX_BYTES, bodyTooLarge, headersTooLarge, REQUEST_TARGET_MAX_BYTES, targetTooLong } from './limits.js';

/** The values of every `name` header line of `req`, in order (Node joins or drops repeated ones in `req.headers`). */
export function headerLines(req: IncomingMessage, name: string): string[] {
  const lower = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === lower) values.push(req.rawHeaders[i + 1] ?? '');
  }
  return values;
}

/** The answer to a request the service refuses whatever its route, or undefined when it may go on to the app. */
export function protocolError(req: IncomingMessage): HttpError | undefined {
  return versionError(req) ?? hostError(req) ?? framingError(req);
}

const NO_VERSION = 'the request line must end with the HTTP version, e.g. HTTP/1.1';

// RFC 9112 §2.3 and RFC 9110 §6.2: HTTP/1.0 and 1.1 are served (a higher 1.x is read as 1.1 by http-version.ts).
function versionError(req: IncomingMessage): HttpError | undefined {
  const hadVersion = firstLineHadVersion(req.socket);
  // Node reads a line with no version as HTTP/0.9; http-version.ts tells them apart on a connection's first request.
  if (req.httpVersionMajor === 0 && hadVersion !== true) return malformed(NO_VERSION);
  if (req.httpVersionMajor !== 1) return versionNotSupported(`HTTP/${req.httpVersion}`);
  return undefined;
}

function versionNotSupported(version: string): HttpError {
  return new HttpError(505, 'HTTP version not supported', [{ message: `${version} is not served here; use HTTP/1.1` }]);
}

// RFC 9112 §3.2: Host = uri-host [ ":" port ]; uri-host is a reg-name (IPv4 included) or a bracketed IP literal.
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const IP_FUTURE = /^v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;
const HOST_RULE = 'must be a host name or address with an optional port, e.g. example.com:8080 or [::1]:8080';

function hostError(req: IncomingMessage): HttpError | undefined {
  const hosts = headerLines(req, 'Host');
  const problem = (message: string): HttpError => new HttpError(400, 'invalid Host header', [{ field: 'Host', message }]);
  if (hosts.length > 1) return problem('must be given once');
  const [host] = hosts;
  if (host === undefined) return req.httpVersionMinor >= 1 ? problem('an HTTP/1.1 request must have a Host header') : undefined;
  return isHostValue(host) ? undefined : problem(HOST_RULE);
}

function isHostValue(value: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(value);
  const name = match?.[1];
  if (name === undefined) return false;
  if (!name.startsWith('[')) return REG_NAME.test(name);
  const literal = name.slice(1, -1);
  return isIPv6(literal) || IP_FUTURE.test(literal);
}

// RFC 9112 §6: the body's framing. Node's parser refuses most bad framing itself (answered by clientErrorAnswer); it
// lets an unknown coding before chunked through, and tells a final coding that is not chunked only after the request
// has reached us.
function framingError(req: IncomingMessage): HttpError | undefined {
  const transferEncoding = headerLines(req, 'Transfer-Encoding');
  if (transferEncoding.length > 0) {
    const codings = transferEncoding.join(',').split(',').map((coding) => coding.trim().toLowerCase());
    const problem = (status: number, error: string, message: string): HttpError =>
      new HttpError(status, error, [{ field: 'Transfer-Encoding', message }]);
    if (codings.at(-1) !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      return problem(400, 'malformed request', 'must end with chunked, once');
    }
    if (codings.length > 1) return problem(501, 'not implemented', 'only chunked is supported as a transfer coding');
  }
  // Answered at once: a client that announces more is never made to wait while it sends it.
  if (Number(req.headers['content-length'] ?? 0) > BODY_MAX_BYTES) return bodyTooLarge();
  return undefined;
}

interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
  bytesParsed?: number;
}

/** The answer to a request Node's parser refused (its `clientError`); the connection then closes. */
export function clientErrorAnswer(error: ParserError): HttpError {
  const fieldProblem = (field: string, message: string): HttpError => new HttpError(400, 'malformed request', [{ field, message }]);
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(error.rawPacket) ? targetTooLong() : headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'request timeout', [{ message: 'the request did not arrive in time' }]);
    case 'HPE_INVALID_VERSION': {
      const version = wellFormedVersion(error);
      return version === undefined ? malformed(NO_VERSION) : versionNotSupported(version);
    }
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return fieldProblem('Transfer-Encoding', 'must end with chunked, once');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return fieldProblem('Content-Length', 'must be given once, as digits, and not with Transfer-Encoding');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HttpError(413, 'request body too large', [{ message: 'chunk extensions too large' }]);
    default:
      return malformed('the request is not valid HTTP/1.1');
  }
}

function malformed(message: string): HttpError {
  return new HttpError(400, 'malformed request', [{ message }]);
}

/** The version the parser stopped after, when it is well formed (`HTTP/` digit `.` digit, then CR or no more yet). */
function wellFormedVersion({ rawPacket, bytesParsed = 0 }: ParserError): string | undefined {
  const next = rawPacket?.toString('latin1', bytesParsed, bytesParsed + 1) ?? '';
  if (next !== '' && next !== '\r') return undefined;
  return /HTTP\/\d\.\d$/.exec(rawPacket?.toString('latin1', 0, bytesParsed) ?? '')?.[0];
}

/**
 * Whether the packet Node gave up on starts with a request line whose target alone passes the limit. Node hands over
 * the chunk it was reading, which holds the request line unless the head came in several chunks (then: 431).
 */
function requestLineTooLong(packet: Buffer | undefined): boolean {
  const head = packet?.toString('latin1') ?? '';
  const lineEnd = head.indexOf('\r\n');
  const target = /^[A-Z]+ (\S+)/.exec(lineEnd === -1 ? head : head.slice(0, lineEnd))?.[1];
  return target !== undefined && target.length > REQUEST_TARGET_MAX_BYTES;
}
