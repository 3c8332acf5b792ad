// Runs a handler on a loopback port in the service's own HTTP server, and sends the service requests: through
// node:http, or as raw bytes for what node:http will not send. Every answer is checked against openapi.json, and for
// the tests' keys, which no answer may hold.
import type http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { createHttpServer } from '../../src/http-server.js';
import { expectNoKeyMaterial, WRITER_KEY } from './callers.js';
import { checkReply } from './contract.js';

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}

export interface Reply {
  status: number;
  /** The status line, on answers read from a raw socket (e.g. `HTTP/1.1 200 OK`). */
  statusLine?: string;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  durationMs: number;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string or bytes is sent as is; anything else is sent as JSON with its Content-Type. */
  body?: unknown;
  /** Send the body in chunks (Transfer-Encoding: chunked) rather than with a Content-Length. */
  chunked?: boolean;
  /** Fail, saying so, when no whole answer came within this long (a test then fails with a reason, not a timeout). */
  timeoutMs?: number;
  /** The key sent as `Authorization: Bearer <key>`: the writer's unless set; null sends none. An Authorization in
   * `headers` is sent instead. */
  key?: string | null;
}

/** Sends a request to the service and checks the answer against openapi.json (it rejects when it breaks it). */
export async function request(baseUrl: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? WRITER_KEY : options.key;
  if (key !== null && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) headers.authorization = `Bearer ${key}`;
  let payload: string | Buffer | undefined;
  if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
    payload = options.body;
  } else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const started = performance.now();
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = httpRequest(new URL(path, baseUrl), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parseJson(text), durationMs: performance.now() - started });
      });
    });
    req.on('error', reject);
    if (options.timeoutMs !== undefined) {
      const limit = options.timeoutMs;
      req.setTimeout(limit, () => {
        req.destroy(new Error(`${method} ${path}: no answer within ${limit} ms`));
      });
    }
    if (options.chunked && payload !== undefined) {
      // Several writes before the end: node:http then sends the body chunked, in more than one chunk.
      const bytes = Buffer.from(payload);
      for (let at = 0; at < bytes.length; at += 16 * 1024) req.write(bytes.subarray(at, at + 16 * 1024));
      req.end();
    } else {
      req.end(payload);
    }
  });
  expectNoKeyMaterial(JSON.stringify(reply.headers) + reply.text, `the answer to ${method} ${path}`);
  await checkReply(method, path, reply);
  return reply;
}

/**
 * Sends `head` (request line and headers, without the blank line that ends them) and `body` as they are, on a new
 * connection, and reads the answer until the server closes it (so send `Connection: close`): for requests node:http
 * will not send. The answer is
 * checked against openapi.json unless `contract` is false (for answers to requests that are not HTTP at all).
 */
export async function rawRequest(port: number, head: string, body = '', { contract = true } = {}): Promise<Reply> {
  const started = performance.now();
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    // The server may close while the rest of a large request is still on its way; the answer came first.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(Buffer.concat(chunks));
      else reject(error);
    });
    // Not end(): Node's server drops a request whose client half-closes before the answer. The server closes instead.
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), Buffer.from(body)]));
  });
  const reply = parseRawAnswer(received, performance.now() - started);
  if (contract) {
    const [method = '', target = ''] = head.split('\r\n', 1)[0]?.split(' ') ?? [];
    await checkReply(method, target, reply);
  }
  return reply;
}

function parseRawAnswer(bytes: Buffer, durationMs: number): Reply {
  const [first] = parseAnswers(bytes, durationMs);
  if (!first) throw new Error(`not an HTTP answer: ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
  return first;
}

/** The answers in `bytes`, one after the other, each body as long as its Content-Length says (none without one). */
function parseAnswers(bytes: Buffer, durationMs: number): Reply[] {
  const answers: Reply[] = [];
  let rest = bytes;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) return answers;
    const [statusLine = '', ...lines] = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers: http.IncomingHttpHeaders = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyEnd = headEnd + 4 + Number(headers['content-length'] ?? 0);
    const body = rest.subarray(headEnd + 4, bodyEnd).toString('utf8');
    expectNoKeyMaterial(rest.subarray(0, bodyEnd).toString('latin1'), `the answer ${statusLine}`);
    answers.push({ status: Number(statusLine.split(' ')[1]), statusLine, headers, text: body, json: parseJson(body), durationMs });
    rest = rest.subarray(bodyEnd);
  }
}

export interface Exchange {
  /** Every answer the server sent, in order. */
  answers: Reply[];
  /** When the server closed the connection, in ms after the bytes were sent; undefined if it did not within the wait. */
  closedAfterMs: number | undefined;
}

/** Sends `bytes` on a new connection as they are, and collects what comes back until the server closes or `waitMs` pass. */
export async function exchange(port: number, bytes: string | Buffer, waitMs = 2000): Promise<Exchange> {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<number>((resolve) => {
    socket.on('close', () => { resolve(performance.now() - started); });
  });
  socket.on('error', () => undefined);
  socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => { resolve(undefined); }, waitMs);
  });
  const closedAfterMs = await Promise.race([closed, waited]);
  clearTimeout(timer);
  socket.destroy();
  return { answers: parseAnswers(Buffer.concat(chunks), performance.now() - started), closedAfterMs };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
