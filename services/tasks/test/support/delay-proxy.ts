// A TCP proxy that can hold back what clients send, to make a database query slow on demand.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  port: number;
  /**
   * From now on, hold each chunk a client sends for `ms` before passing it on (0 passes at once); with `containing`,
   * only the chunks that contain that text (e.g. a field name of the documents a test wants written late).
   */
  setDelay(ms: number, containing?: string): void;
  /** Resolves when a chunk is next held back. */
  nextHeld(): Promise<void>;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number): Promise<DelayProxy> {
  let delayMs = 0;
  let marker: Buffer | undefined;
  let heldWaiters: (() => void)[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (delayMs === 0 || (marker !== undefined && !chunk.includes(marker))) {
        upstream.write(chunk);
        return;
      }
      // Pausing keeps later chunks behind this one, so the byte order stays intact.
      client.pause();
      const waiters = heldWaiters;
      heldWaiters = [];
      for (const resolve of waiters) resolve();
      setTimeout(() => {
        upstream.write(chunk);
        client.resume();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as AddressInfo).port,
    setDelay(ms, containing) {
      delayMs = ms;
      marker = containing === undefined ? undefined : Buffer.from(containing);
    },
    nextHeld: () => new Promise((resolve) => heldWaiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
