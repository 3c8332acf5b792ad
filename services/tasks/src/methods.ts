// One route's methods as docs/api.md §Conventions says: GET also answers HEAD, OPTIONS answers 204, and any other
// method 405; both with the same `Allow` header.
import type { IRoute, RequestHandler } from 'express';
import { HttpError } from './errors.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Handlers = Partial<Record<Method, RequestHandler[]>>;

/** The `Allow` header of a route that serves `methods`. */
function allowHeader(methods: Method[]): string {
  return [...methods.flatMap((method) => (method === 'GET' ? ['GET', 'HEAD'] : [method])), 'OPTIONS'].join(', ');
}

/** Serves `path` of `router` (an app or a Router) with `handlers`, one list per method. */
export function serveMethods(router: { route(path: string): IRoute }, path: string, handlers: Handlers): void {
  const methods = Object.keys(handlers) as Method[];
  const allow = allowHeader(methods);
  const route = router.route(path);
  for (const method of methods) {
    const lower = method.toLowerCase() as Lowercase<Method>;
    route[lower](...(handlers[method] ?? []));
  }
  route.options((_req, res) => {
    res.set('Allow', allow).status(204).end();
  });
  route.all((req) => {
    throw new HttpError(405, 'method not allowed', [{ message: `${req.method} is not allowed here; use ${allow}` }], { Allow: allow });
  });
}
