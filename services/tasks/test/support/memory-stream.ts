// A writable stream that keeps what the logger writes, so tests can read its JSON lines.
import { Writable } from 'node:stream';

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
