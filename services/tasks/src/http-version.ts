// Reads the version of a connection's first request line from its raw bytes, where Node's parser cannot:
// - HTTP/1.2 to HTTP/1.9 are read as HTTP/1.1 (RFC 9112 §2.3, RFC 9110 §6.2: a higher minor version is processed as
//   the highest one the recipient implements). Node's parser refuses every version but 0.9, 1.0, 1.1 and 2.0 and has
//   no option to relax only that, so the minor digit is rewritten in place before the parser reads it.
// - Node's parser reads a line with no version as HTTP/0.9, as it reads `HTTP/0.9` itself: the first is malformed (a
//   400), the second a version not served (a 505), so whether the line had a version is kept for the request.
// A later request on the same connection is not watched: its version is what Node's parser reads (docs/api.md).
import type { Socket } from 'node:net';

const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const MAJOR_1 = Buffer.from('HTTP/1.', 'latin1');
const TWO = 0x32;
const NINE = 0x39;
const ONE = 0x31;

/** Whether each connection's first request line had a version, until that request takes it (firstLineHadVersion). */
const firstLines = new WeakMap<Socket, boolean>();

/** Watches `socket`'s first request line, before Node's parser (which a 'data' listener also moves to JS reads). */
export function watchFirstRequestLine(socket: Socket): void {
  // How far into the request line: spaces passed (method SP target SP), then bytes of `HTTP/1.` matched (past its
  // length once the minor digit is read or the version differs: nothing more to rewrite).
  let started = false;
  let spaces = 0;
  let versionBytes = 0;
  const watch = (chunk: Buffer): void => {
    let done = false;
    for (let i = 0; i < chunk.length && !done; i++) {
      const byte = chunk[i] ?? 0;
      if (byte === CR || byte === LF) {
        // Empty lines before a request line are skipped, by Node's parser too (RFC 9112 §2.2).
        if (started) {
          firstLines.set(socket, spaces === 2);
          done = true;
        }
        continue;
      }
      started = true;
      if (spaces < 2) {
        if (byte === SPACE) spaces++;
      } else if (versionBytes < MAJOR_1.length) {
        versionBytes = byte === MAJOR_1[versionBytes] ? versionBytes + 1 : MAJOR_1.length + 1;
      } else if (versionBytes === MAJOR_1.length) {
        if (byte >= TWO && byte <= NINE) chunk[i] = ONE;
        versionBytes++;
      }
    }
    if (done) socket.removeListener('data', watch);
  };
  socket.prependListener('data', watch);
}

/**
 * For the first request of `socket`: whether its request line had a version (Node reads one without as HTTP/0.9).
 * Undefined for a later request, whose line was not watched.
 */
export function firstLineHadVersion(socket: Socket): boolean | undefined {
  const hadVersion = firstLines.get(socket);
  firstLines.delete(socket);
  return hadVersion;
}
