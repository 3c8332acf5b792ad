// The image's HEALTHCHECK (the image has no curl): exit 0 when GET /health answers 200, 1 otherwise.
// Same defaults as config.ts; an empty variable counts as unset there too.
const port = process.env.PORT || '8080';
// Where the server listens: HOST when it names one address, else loopback (every interface includes it).
const host = process.env.HOST || '127.0.0.1';
const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

try {
  const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
