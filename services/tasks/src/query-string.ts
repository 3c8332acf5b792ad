// The query string parser (express's 'query parser'): strict, where Node's own parsers are lenient. A malformed
// percent-encoding, bytes that are not UTF-8 or an encoded lone surrogate is a 400, never a silent U+FFFD, and a
// repeated parameter is a 400, never an array.
import { detailAbout, HttpError } from './errors.js';

/** `search` is the part after `?`; express passes null when there is none. */
export function parseQueryString(search: string | null | undefined): Record<string, string> {
  const params = new Map<string, string>();
  for (const pair of (search ?? '').split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decode(equals === -1 ? pair : pair.slice(0, equals), undefined);
    const value = decode(equals === -1 ? '' : pair.slice(equals + 1), name);
    if (params.has(name)) throw new HttpError(400, 'invalid query', [detailAbout(name, 'must be given at most once')]);
    params.set(name, value);
  }
  // fromEntries defines every name as an own property, `__proto__` included.
  return Object.fromEntries(params);
}

function decode(text: string, field: string | undefined): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    throw new HttpError(400, 'invalid query', [detailAbout(field, 'must be percent-encoded UTF-8')]);
  }
}
