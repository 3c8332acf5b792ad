// The HTTP server the app runs in. What Node itself would answer with an empty or text body is answered in JSON here.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError } from './errors.js';
import { headersTooLarge, REQUEST_TARGET_MAX_BYTES, targetTooLong } from './limits.js';

/**
 * Node's own limit on a request's head (request line and headers): above the contract's limits (limits.ts), so that
 * the app checks those exactly. A head over this one never reaches the app and is answered here.
 */
export const HEAD_SIZE_CAP = 32 * 1024;

const reasons: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
};

export function createHttpServer(handler: http.RequestListener): http.Server {
  // requireHostHeader off: Node would answer a request without Host with an empty 400; limits.ts answers it in JSON.
  const server = http.createServer({ maxHeaderSize: HEAD_SIZE_CAP, requireHostHeader: false }, handler);
  server.on('clientError', answerClientError);
  // An `Expect` other than 100-continue, which Node would answer with an empty 417.
  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const text = JSON.stringify(new HttpError(417, 'expectation failed', [{ message: 'only Expect: 100-continue is supported' }]).toBody());
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
    res.end(text);
  });
  return server;
}

interface ClientError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

/** A request Node could not parse, or whose head passed HEAD_SIZE_CAP: a JSON answer, then the connection closes. */
function answerClientError(error: ClientError, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const answer = clientErrorAnswer(error);
  const text = JSON.stringify(answer.toBody());
  socket.end(
    `HTTP/1.1 ${answer.status} ${reasons[answer.status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

function clientErrorAnswer(error: ClientError): HttpError {
  if (error.code === 'HPE_HEADER_OVERFLOW') return requestLineTooLong(error.rawPacket) ? targetTooLong() : headersTooLarge();
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new HttpError(408, 'request timeout', [{ message: 'the request did not arrive in time' }]);
  return new HttpError(400, 'malformed request', [{ message: 'the request is not valid HTTP/1.1' }]);
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
