// The callers every test server knows, their keys, and the search for key material in what the tests collect. Every
// request support/http.ts sends carries the writer's key unless a test says otherwise, so the writer's key is the
// sentinel: no answer (support/http.ts) and no log a test reads may hold it, any part of it, or its digest.
import { randomBytes } from 'node:crypto';
import { Callers, digestOf, type Access } from '../../src/callers.js';

/** A new key, as the contract shapes them: `msk_` and 32 random bytes in unpadded base64url. */
export function newKey(): string {
  return `msk_${randomBytes(32).toString('base64url')}`;
}

export interface TestCaller {
  id: string;
  access: Access;
  keys: string[];
}

/** May write; two keys, as during a rotation. */
export const WRITER: TestCaller = { id: 'ci', access: 'write', keys: [newKey(), newKey()] };
/** May only read, as the requests service. */
export const READER: TestCaller = { id: 'requests', access: 'read', keys: [newKey()] };
/** Well formed, and no caller's. */
export const UNKNOWN_KEY = newKey();

/** The key tests send by default. */
export const WRITER_KEY = WRITER.keys[0] ?? '';
/** The Authorization header line of a raw request. */
export const AUTHORIZATION = `Authorization: Bearer ${WRITER_KEY}`;

/** The callers file that names `callers`, as a deployment writes it: digests only. */
export function callersFile(callers: TestCaller[]): string {
  const entries = callers.map(({ id, access, keys }) => [id, { access, keys: keys.map((key) => digestOf(key).toString('hex')) }] as const);
  return JSON.stringify({ callers: Object.fromEntries(entries) });
}

export const TEST_CALLERS = Callers.parse(callersFile([WRITER, READER]));

/** Every key the tests use: none may leak. */
const SECRETS = [...WRITER.keys, ...READER.keys, UNKNOWN_KEY];
/** A run of this many characters of a key's random part is a leak: by chance, 64^10 makes it never happen. */
const FRAGMENT_LENGTH = 10;

/** What of the tests' keys `text` holds: a key, a fragment of one, or a digest (hex or base64); empty when nothing. */
export function keyMaterialIn(text: string): string[] {
  const found: string[] = [];
  SECRETS.forEach((key, index) => {
    const digest = digestOf(key);
    const random = key.slice('msk_'.length);
    for (let at = 0; at + FRAGMENT_LENGTH <= random.length; at++) {
      if (text.includes(random.slice(at, at + FRAGMENT_LENGTH))) {
        found.push(`a part of test key ${index} at ${at}`);
        break;
      }
    }
    if (text.includes(digest.toString('hex')) || text.includes(digest.toString('base64'))) found.push(`the digest of test key ${index}`);
  });
  return found;
}

/** Fails, naming what leaked, when `text` (from `where`) holds any of the tests' key material. */
export function expectNoKeyMaterial(text: string, where: string): void {
  const found = keyMaterialIn(text);
  if (found.length > 0) throw new Error(`${where} holds ${found.join(', ')}`);
}
