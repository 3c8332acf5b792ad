// The image's HEALTHCHECK (the image has no curl): exit 0 when GET /health answers 200, 1 otherwise.
// Same default as config.ts; an empty PORT counts as unset there too.
const port = process.env.PORT === undefined || process.env.PORT === '' ? '8080' : process.env.PORT;

try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
