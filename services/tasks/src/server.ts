// Entry point: validate the environment, connect to MongoDB, listen, and stop cleanly on SIGTERM.
import http from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openDatabase } from './db.js';
import { createHttpServer } from './http-server.js';
import { createLogger, flushLogs } from './logger.js';

/** Docker sends SIGKILL 10 s after SIGTERM; stop before that whatever happens. */
const SHUTDOWN_DEADLINE_MS = 9000;
/** Part of that time given to shipping the last Logsene lines. */
const LOG_FLUSH_TIMEOUT_MS = 2000;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tasks service: ${error.message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
const logger = createLogger({ level: config.logLevel, logseneToken: config.logseneToken, logseneUrl: config.logseneUrl });
const database = openDatabase(config.mongodbUri, logger);
const app = createApp({ logger, connection: database.connection, callers: config.callers });

let stopping = false;
/** Responses not yet sent. Once stopping, each tells its client to close the connection after it. */
const unsent = new Set<http.ServerResponse>();
const closeAfterAnswer = (res: http.ServerResponse): void => {
  if (!res.headersSent) res.setHeader('Connection', 'close');
};

const server = createHttpServer((req, res) => {
  // A keep-alive connection then ends at its next answer, instead of whenever it happens to fall idle, and the
  // client knows not to send another request on it.
  if (stopping) closeAfterAnswer(res);
  unsent.add(res);
  res.on('close', () => unsent.delete(res));
  app(req, res);
});

server.on('error', (error) => {
  logger.error('server error', { reason: error.message });
  process.exit(1);
});
server.listen({ port: config.port, host: config.host }, () => {
  logger.info('listening', { host: config.host ?? 'every interface', port: config.port, logsene: config.logseneToken !== undefined });
});

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down: finishing in-flight requests', { signal });
  const deadline = setTimeout(() => {
    logger.error('shutdown took too long; exiting anyway', { afterMs: SHUTDOWN_DEADLINE_MS });
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();

  unsent.forEach(closeAfterAnswer);
  // close() stops accepting; a keep-alive connection that goes idle after its last answer would hold it open.
  const closed = new Promise<void>((resolve) => server.close(() => { resolve(); }));
  const sweeper = setInterval(() => { server.closeIdleConnections(); }, 100);
  await closed;
  clearInterval(sweeper);

  try {
    await database.close();
  } catch (error) {
    logger.warn('closing the database failed', { reason: error instanceof Error ? error.message : String(error) });
  }
  logger.info('stopped');
  await flushLogs(logger, LOG_FLUSH_TIMEOUT_MS);
  process.exit(0);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}

// A bug that escapes every handler: log it and exit, so the container's restart policy starts a clean process.
process.on('uncaughtException', (error) => {
  logger.error('uncaught exception; exiting', { reason: error.message, stack: error.stack });
  process.exit(1);
});
process.on('unhandledRejection', (reason) => {
  logger.error('unhandled rejection; exiting', { reason: reason instanceof Error ? reason.stack : String(reason) });
  process.exit(1);
});
