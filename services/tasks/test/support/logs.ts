// Loggers for tests: one that says nothing, and a stream that keeps the JSON lines a logger writes.
import { Writable } from 'node:stream';
import winston from 'winston';

export function silentLogger(): winston.Logger {
  return winston.createLogger({ silent: true });
}

export class MemoryStream extends Writable {
  private text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }

  /** Every line written so far, parsed as JSON. */
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
