// Reads a request line's HTTP/1.2 to HTTP/1.9 as HTTP/1.1 (RFC 9112 §2.3, RFC 9110 §6.2: a higher minor version is
// processed as the highest one the recipient implements). Node's parser refuses every version but 0.9, 1.0, 1.1 and
// 2.0 and has no option to relax only that, so the minor digit of a connection's first request line is rewritten in
// place before the parser reads it. A later request on the same connection gets a 505 instead.
import type { Socket } from 'node:net';

const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const MAJOR_1 = Buffer.from('HTTP/1.', 'latin1');
const TWO = 0x32;
const NINE = 0x39;
const ONE = 0x31;

/** Watches `socket`'s first request line, before Node's parser (which a 'data' listener also moves to JS reads). */
export function readHigherMinorVersionsAsHttp11(socket: Socket): void {
  // How far into the request line: spaces passed (method SP target SP), then bytes of the version matched.
  let spaces = 0;
  let versionBytes = 0;
  const watch = (chunk: Buffer): void => {
    let done = false;
    for (let i = 0; i < chunk.length && !done; i++) {
      const byte = chunk[i] ?? 0;
      if (byte === CR || byte === LF) {
        done = true;
      } else if (spaces < 2) {
        if (byte === SPACE) spaces++;
      } else if (versionBytes < MAJOR_1.length) {
        if (byte === MAJOR_1[versionBytes]) versionBytes++;
        else done = true;
      } else {
        if (byte >= TWO && byte <= NINE) chunk[i] = ONE;
        done = true;
      }
    }
    if (done) socket.removeListener('data', watch);
  };
  socket.prependListener('data', watch);
}
