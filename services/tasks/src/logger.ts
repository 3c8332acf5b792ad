// The service's logger: JSON lines on stdout, and a copy shipped to Logsene (Sematext Logs) when a token is set.
import winston from 'winston';
import Logsene from 'winston-logsene';
import type { Config } from './config.js';

export interface LoggerOptions {
  level: Config['logLevel'];
  logseneToken?: string | undefined;
  logseneUrl?: string | undefined;
  /** Where the JSON lines go; process.stdout unless set. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): winston.Logger {
  const stdout = (): winston.transport => new winston.transports.Stream({ stream: options.stream ?? process.stdout });
  const format = winston.format.combine(winston.format.timestamp(), winston.format.errors(), winston.format.json());
  const logger = winston.createLogger({ level: options.level, format, transports: [stdout()] });
  if (options.logseneToken) {
    // Reports about Logsene itself go to stdout only: sent to Logsene, a failure would report itself forever.
    const stdoutOnly = winston.createLogger({ level: options.level, format, transports: [stdout()] });
    logger.add(createLogseneTransport(stdoutOnly, options.logseneToken, options.logseneUrl));
  }
  return logger;
}

function createLogseneTransport(reporter: winston.Logger, token: string, url: string | undefined): Logsene {
  // logsene-js batches lines and POSTs them in the background, so a slow or dead receiver never holds up a request.
  // flushOnExit stays off: its own SIGTERM handler would keep the process alive for 99 s; server.ts flushes instead.
  const transport = new Logsene({ token, url, type: 'tasks', flushOnExit: false });
  const client = transport.logger;
  // logsene-js prints failures to stderr as raw objects, which can hold the token (it is in some receiver URLs).
  client.options.silent = true;
  client.on('x-logsene-error', (event: { err?: { message?: string } }) => {
    const reason = (event.err?.message ?? 'unknown error').replaceAll(token, '[token]');
    reporter.warn('shipping logs to Logsene failed; they stay on stdout', { reason });
  });
  return transport;
}

/** Sends whatever Logsene lines are still buffered, waiting at most `timeoutMs`. Never rejects. */
export async function flushLogs(logger: winston.Logger, timeoutMs: number): Promise<void> {
  const clients = logger.transports.filter((t): t is Logsene => t instanceof Logsene).map((t) => t.logger);
  await Promise.all(clients.map((client) => flushClient(client, timeoutMs)));
}

function flushClient(client: Logsene['logger'], timeoutMs: number): Promise<void> {
  if (client.logCount < 1) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('log', done);
      client.off('x-logsene-error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('log', done);
    client.once('x-logsene-error', done);
    client.send();
  });
}
