// The key check's own cost in the tasks service, on the Node its image ships: the key's shape (KEY_PATTERN) and
// Callers.find (SHA-256 of the key, then a constant-time comparison with every stored digest) from the service's
// compiled callers module, with N stored digests. Prints one JSON line per N: { digests, microseconds } a check, the
// median of 5 batches. Run by bench/tls/run.ts:
//   node key-check.mjs DIST/src/callers.js ITERATIONS N...
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [modulePath, iterations, ...counts] = process.argv.slice(2);
const { Callers, KEY_PATTERN } = await import(pathToFileURL(modulePath).href);

const newKey = () => `msk_${crypto.randomBytes(32).toString('base64url')}`;
const digest = (key) => crypto.createHash('sha256').update(key, 'ascii').digest('hex');

for (const count of counts.map(Number)) {
  const keys = Array.from({ length: count }, newKey);
  const file = { callers: Object.fromEntries(keys.map((key, at) => [`caller-${at}`, { access: 'write', keys: [digest(key)] }])) };
  const callers = Callers.parse(JSON.stringify(file));
  const key = keys[count - 1];
  let found = 0; // used, so that no check is optimised away
  const batch = () => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < Number(iterations); i++) if (KEY_PATTERN.test(key) && callers.find(key)) found++;
    return Number(process.hrtime.bigint() - started) / 1000 / Number(iterations);
  };
  batch(); // warm-up: the JIT compiles the loop
  const batches = Array.from({ length: 5 }, batch).sort((a, b) => a - b);
  if (found !== 6 * Number(iterations)) throw new Error(`the key was not found: ${found} of ${6 * Number(iterations)}`);
  process.stdout.write(`${JSON.stringify({ digests: count, microseconds: batches[2] })}\n`);
}
