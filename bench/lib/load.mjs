// Runs a workload against a server with autocannon and reduces its result to the figures the report prints.
import autocannon from 'autocannon';
import { headersFor } from './workloads.mjs';

/**
 * Loads `baseUrl` with `workload` over `connections` keep-alive connections for `duration` seconds.
 * `observe(status)` is called on every answer (status) and every failed request (status 0), in real time.
 */
export async function runLoad({ baseUrl, workload, connections, duration, warmup = 0, observe }) {
  const options = {
    url: baseUrl,
    connections,
    duration,
    timeout: 10,
    // One autocannon request per step of the cycle: each builds its request afresh (ids, unique titles) and
    // reads the answer to record acknowledged writes. The context is autocannon's per-connection scratch space.
    requests: workload.cycle.map((operation, step) => ({
      setupRequest: (request, context) => {
        const built = operation.request();
        context[step] = built;
        return { ...request, method: built.method, path: built.path, headers: headersFor(built), body: built.body };
      },
      onResponse: (status, body, context) => operation.answered(context[step], status, body),
    })),
  };
  if (warmup > 0) options.warmup = { connections, duration: warmup };
  const instance = autocannon(options);
  if (observe) {
    instance.on('response', (_client, status) => observe(status));
    instance.on('reqError', () => observe(0));
  }
  return figuresOf(await instance);
}

function figuresOf(result) {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    answered: result.requests.total,
    // autocannon counts a timeout as an error too, so timeouts are inside `errors`.
    errors: result.errors + result.non2xx,
    non2xx: result.non2xx,
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
  };
}
