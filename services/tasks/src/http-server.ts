// The HTTP server the app runs in: Node's, with timeouts for slow clients, the HTTP rules of http-protocol.ts applied
// before the app sees a request, and in JSON every answer Node itself would give with an empty or text body.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HttpError, sendError } from './errors.js';
import { clientErrorAnswer, protocolError } from './http-protocol.js';
import { watchFirstRequestLine } from './http-version.js';

/**
 * Node's own limit on a request's head (request line and headers): above the contract's limits (limits.ts), so that
 * the app checks those exactly. A head over this one never reaches the app and is answered here.
 */
export const HEAD_SIZE_CAP = 32 * 1024;

/** How long the server waits on a client (docs/tasks.md § Slow clients). */
export const CLIENT_TIMEOUTS = {
  /** From a connection's start, or the end of its previous answer, to the end of a request's headers: then 408. */
  headersMs: 5000,
  /** From a connection's start, or the end of its previous answer, to the end of a request's body: then 408. */
  requestMs: 10_000,
  /** How often Node looks for requests past those two: a late one is closed up to this much later. */
  checkEveryMs: 500,
  /** An idle keep-alive connection is closed this long after its last answer (the Keep-Alive header says so)... */
  keepAliveMs: 5000,
  /** ...plus this margin, so that a client that trusts the header never sends on a connection being closed. */
  keepAliveMarginMs: 1000,
  /** A connection that moves no byte either way for this long is closed (e.g. a client that stopped reading). */
  idleMs: 10_000,
} as const;

const NOSNIFF = 'nosniff';

/** The last answer begun on each connection: the answer to a parser error comes after it (answerClientError). */
const lastAnswers = new WeakMap<Duplex, http.ServerResponse>();
/** Connections whose request was refused: what the client sent after it is never served (RFC 9112 §9.6). */
const refusedConnections = new WeakSet<Duplex>();

export function createHttpServer(handler: http.RequestListener): http.Server {
  const server = http.createServer(
    {
      maxHeaderSize: HEAD_SIZE_CAP,
      // Node would answer a request without Host with an empty 400; http-protocol.ts answers it in JSON.
      requireHostHeader: false,
      headersTimeout: CLIENT_TIMEOUTS.headersMs,
      requestTimeout: CLIENT_TIMEOUTS.requestMs,
      connectionsCheckingInterval: CLIENT_TIMEOUTS.checkEveryMs,
      keepAliveTimeout: CLIENT_TIMEOUTS.keepAliveMs,
      keepAliveTimeoutBuffer: CLIENT_TIMEOUTS.keepAliveMarginMs,
    },
    (req, res) => {
      serve(req, res, handler);
    },
  );
  server.timeout = CLIENT_TIMEOUTS.idleMs;
  server.on('connection', watchFirstRequestLine);
  server.on('clientError', answerClientError);
  // An `Expect` other than 100-continue, which Node would answer with an empty 417.
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    refuse(req, res, new HttpError(417, 'expectation failed', [{ message: 'only Expect: 100-continue is supported' }]));
  });
  // Node would close a CONNECT's connection without a word.
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    answerConnect(req, socket, handler);
  });
  return server;
}

/** Every request: the HTTP rules first, then the app, unless an earlier request on its connection was refused. */
function serve(req: http.IncomingMessage, res: http.ServerResponse, handler: http.RequestListener): void {
  res.setHeader('X-Content-Type-Options', NOSNIFF);
  if (refusedConnections.has(req.socket)) return;
  const refused = protocolError(req);
  if (refused) {
    refuse(req, res, refused);
    return;
  }
  lastAnswers.set(req.socket, res);
  handler(req, res);
}

/** Answers `error` instead of the app, and closes the connection after it. */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, error: HttpError): void {
  res.setHeader('X-Content-Type-Options', NOSNIFF);
  res.setHeader('Connection', 'close');
  refusedConnections.add(req.socket);
  lastAnswers.set(req.socket, res);
  sendError(res, error);
}

/** CONNECT: on a route's path, the route's answer (405 with its Allow); with an authority (host:port), a 400. */
function answerConnect(req: http.IncomingMessage, socket: Duplex, handler: http.RequestListener): void {
  // Node no longer watches this socket: without a listener, an error on it would end the process.
  socket.on('error', () => socket.destroy());
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.setHeader('Connection', 'close');
  res.on('finish', () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  if (req.url?.startsWith('/')) {
    serve(req, res, handler);
    return;
  }
  refuse(req, res, new HttpError(400, 'malformed request', [{ message: 'CONNECT is not served: this is not a proxy' }]));
}

/**
 * A request Node could not parse, or one too slow: a JSON answer, then the connection closes. It comes after the answer
 * to the complete request before it on the connection, if any, and instead of the answer to an incomplete one. When
 * that earlier answer closes the connection (Connection: close, HTTP/1.0, a refusal), there is no second answer: the
 * bytes that follow such a request are discarded unread.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // The refusal is the answer; the connection closes after it.
  if (refusedConnections.has(socket)) return;
  const last = lastAnswers.get(socket);
  if (last && !last.writableFinished && last.req.complete) {
    last.once('finish', () => {
      sendClientErrorAnswer(error, socket);
    });
    return;
  }
  sendClientErrorAnswer(error, socket);
}

function sendClientErrorAnswer(error: Error & { code?: string }, socket: Duplex): void {
  // Not writable: an answer that closes the connection went before.
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const answer = clientErrorAnswer(error);
  const text = JSON.stringify(answer.toBody());
  socket.end(
    `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? ''}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
      `X-Content-Type-Options: ${NOSNIFF}\r\nConnection: close\r\n\r\n${text}`,
  );
}
