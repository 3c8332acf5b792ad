// Throwaway FerretDB servers (a real MongoDB wire-protocol server) through the project's scripts/db/ferretdb.sh.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../../../scripts/db/ferretdb.sh', import.meta.url));

export interface FerretDB {
  uri: string;
  port: number;
  /** Stops the server; its data stays for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
  /** Freezes the server process (SIGSTOP): its connections stay open and nothing answers. */
  pause(): Promise<void>;
  /** Lets a frozen server go on (SIGCONT). */
  resume(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startFerretDB(): Promise<FerretDB> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tasks-ferretdb-'));
  const port = await freePort();
  const start = async (): Promise<string> => (await run('bash', [script, 'start', dir, String(port)])).stdout.trim();
  const stop = async (): Promise<void> => {
    await run('bash', [script, 'stop', dir]);
  };
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    process.kill(Number(await readFile(path.join(dir, 'ferretdb.pid'), 'utf8')), name);
  };
  const uri = await start();
  return {
    uri,
    port,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    start: async () => {
      await start();
    },
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
