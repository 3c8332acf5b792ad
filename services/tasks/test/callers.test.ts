// The callers file: each rule's refusal as the service prints it at start (naming the caller and the rule, never a
// digest), and finding a key's caller with a constant-time comparison against every stored digest.
import { expect } from 'chai';
import crypto from 'node:crypto';
import { Callers, digestOf, KEY_PATTERN } from '../src/callers.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { callersFile, keyMaterialIn, newKey, READER, UNKNOWN_KEY, WRITER } from './support/callers.js';

const MONGODB_URI = 'mongodb://127.0.0.1:27017/tasks';
const digest = (key: string): string => digestOf(key).toString('hex');

/** A run of this many characters of a digest in a message is a part of it. */
const DIGEST_FRAGMENT = 8;

/** What loadConfig says of `apiKeys` as API_KEYS: every problem, each checked for keys and any part of a digest. */
function problemsOf(apiKeys: unknown): string[] {
  const text = typeof apiKeys === 'string' ? apiKeys : JSON.stringify(apiKeys);
  try {
    loadConfig({ MONGODB_URI, API_KEYS: text });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const said = error.message;
    expect(keyMaterialIn(said), said).to.deep.equal([]);
    for (const hex of text.match(/[0-9a-fA-F]{64}/g) ?? []) {
      for (let at = 0; at + DIGEST_FRAGMENT <= hex.length; at++) expect(said).not.to.include(hex.slice(at, at + DIGEST_FRAGMENT));
    }
    return error.problems;
  }
  return expect.fail('loadConfig accepted a bad callers file');
}

describe('the callers file', () => {
  it('makes keys of the shape the contract gives: msk_ and 43 base64url characters', () => {
    for (let i = 0; i < 100; i++) expect(newKey()).to.match(KEY_PATTERN).and.have.lengthOf(47);
  });

  it('reads the callers, their access and their keys (one or two)', () => {
    const callers = Callers.parse(callersFile([WRITER, READER]));
    for (const key of WRITER.keys) expect(callers.find(key)).to.deep.equal({ id: 'ci', access: 'write' });
    expect(callers.find(READER.keys[0] ?? '')).to.deep.equal({ id: 'requests', access: 'read' });
    expect(callers.find(UNKNOWN_KEY)).to.equal(undefined);
    expect(callers.find('')).to.equal(undefined);
  });

  const good = digest(newKey());
  const other = digest(newKey());
  const refused: [string, unknown, string[]][] = [
    ['text that is not JSON (a digest not quoted)', `{"callers": {"ci": {"access": "write", "keys": [x${good}]}}}`, [
      'API_KEYS is not valid JSON: it must be {"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}',
    ]],
    ['a list', [good], ['API_KEYS must be {"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}, with no other field']],
    ['a field beside callers', { callers: { ci: { access: 'write', keys: [good] } }, [good]: 1 }, [
      'API_KEYS must be {"callers": {"<caller id>": {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}}}, with no other field',
    ]],
    ['no caller', { callers: {} }, ['API_KEYS names no caller: a service needs at least one']],
    ['a caller id in capitals', { callers: { ci: { access: 'read', keys: [good] }, 'Mobile-App': { access: 'read', keys: [other] } } }, [
      'API_KEYS caller number 2: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter',
    ]],
    ['a caller id that is a digest with a digit first', { callers: { [`0${good.slice(1)}`]: { access: 'read', keys: [other] } } }, [
      'API_KEYS caller number 1: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter',
    ]],
    ['a caller id of 65 characters', { callers: { [`a${'b'.repeat(64)}`]: { access: 'read', keys: [good] } } }, [
      'API_KEYS caller number 1: its id must be 1 to 64 of a-z, 0-9 and -, starting with a letter',
    ]],
    ['a caller that is a list', { callers: { ci: [good] } }, [
      'API_KEYS caller ci: must be {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}, with no other field',
    ]],
    ['an unknown field', { callers: { ci: { access: 'write', keys: [good], note: good } } }, [
      'API_KEYS caller ci: must be {"access": "read" or "write", "keys": ["<sha256 hex>", ...]}, with no other field',
    ]],
    ['another access', { callers: { ci: { access: 'admin', keys: [good] } } }, ['API_KEYS caller ci: access must be "read" or "write"']],
    ['no access', { callers: { ci: { keys: [good] } } }, ['API_KEYS caller ci: access must be "read" or "write"']],
    ['no keys', { callers: { ci: { access: 'read', keys: [] } } }, ['API_KEYS caller ci: keys must list 1 or 2 digests (2 only while a key is rotated)']],
    ['three keys', { callers: { ci: { access: 'read', keys: [good, other, digest(newKey())] } } }, [
      'API_KEYS caller ci: keys must list 1 or 2 digests (2 only while a key is rotated)',
    ]],
    ['a digest in capitals', { callers: { ci: { access: 'read', keys: [good.toUpperCase()] } } }, [
      'API_KEYS caller ci: keys[0] must be a SHA-256 digest: 64 lowercase hexadecimal characters',
    ]],
    ['a digest one character short', { callers: { ci: { access: 'read', keys: [good, other.slice(1)] } } }, [
      'API_KEYS caller ci: keys[1] must be a SHA-256 digest: 64 lowercase hexadecimal characters',
    ]],
    ['a key instead of its digest', { callers: { ci: { access: 'read', keys: [WRITER.keys[0]] } } }, [
      'API_KEYS caller ci: keys[0] is a key, not its digest: store the SHA-256 of the key, never the key',
    ]],
    ['one digest twice', { callers: { ci: { access: 'read', keys: [good, good] } } }, ['API_KEYS caller ci: keys[1] repeats a digest of the same caller']],
    ['one digest for two callers', { callers: { ci: { access: 'write', keys: [good] }, requests: { access: 'read', keys: [other, good] } } }, [
      'API_KEYS caller requests: keys[1] is also a digest of caller ci: a digest may belong to one caller only',
    ]],
  ];
  for (const [name, file, expected] of refused) {
    it(`refuses ${name}, saying so without a digest`, () => {
      expect(problemsOf(file)).to.deep.equal(expected);
    });
  }

  it('lists every problem of every caller at once', () => {
    const problems = problemsOf({ callers: { ci: { access: 'all', keys: [good, 'x'] }, requests: { access: 'read' } } });
    expect(problems).to.deep.equal([
      'API_KEYS caller ci: access must be "read" or "write"',
      'API_KEYS caller ci: keys[1] must be a SHA-256 digest: 64 lowercase hexadecimal characters',
      'API_KEYS caller requests: keys must list 1 or 2 digests (2 only while a key is rotated)',
    ]);
  });

  describe('finding a key\'s caller', () => {
    const original = crypto.timingSafeEqual.bind(crypto);
    let compared: [Buffer, Buffer][];

    beforeEach(() => {
      compared = [];
      crypto.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
        compared.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
        return original(a, b);
      };
    });

    afterEach(() => {
      crypto.timingSafeEqual = original;
    });

    it('compares the key\'s SHA-256 with every stored digest through crypto.timingSafeEqual, never stopping at a match', () => {
      const callers = Callers.parse(callersFile([WRITER, READER]));
      const stored = [...WRITER.keys, ...READER.keys].map((key) => digestOf(key));
      for (const key of [WRITER.keys[0] ?? '', READER.keys[0] ?? '', UNKNOWN_KEY]) {
        compared = [];
        callers.find(key);
        expect(compared.map(([presented]) => presented.toString('hex'))).to.deep.equal(stored.map(() => digest(key)));
        expect(compared.map(([, against]) => against.toString('hex'))).to.deep.equal(stored.map((each) => each.toString('hex')));
      }
    });
  });
});
