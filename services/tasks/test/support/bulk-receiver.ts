// A local stand-in for Logsene's receiver: the Elasticsearch bulk API (POST /_bulk, NDJSON action + document pairs),
// over HTTP, or over HTTPS with the given key and certificate.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Listening } from './http.js';

export interface BulkEntry {
  /** The bulk action line, e.g. { index: { _index: '<token>', _type: 'logs' } }. */
  action: { index?: { _index?: string } };
  document: Record<string, unknown>;
}

export interface BulkReceiver extends Listening {
  entries: BulkEntry[];
  /** Paths of every request received, e.g. '/_bulk'. */
  paths: string[];
}

export async function startBulkReceiver(tls?: { key: string; cert: string }): Promise<BulkReceiver> {
  const entries: BulkEntry[] = [];
  const paths: string[] = [];
  const handler: http.RequestListener = (req, res) => {
    paths.push(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/_bulk')) {
        res.writeHead(404).end();
        return;
      }
      const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter((line) => line.trim() !== '');
      const items: unknown[] = [];
      for (let i = 0; i + 1 < lines.length; i += 2) {
        entries.push({ action: JSON.parse(lines[i] ?? '') as BulkEntry['action'], document: JSON.parse(lines[i + 1] ?? '') as Record<string, unknown> });
        items.push({ index: { status: 201 } });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ took: 1, errors: false, items }));
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    entries,
    paths,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
