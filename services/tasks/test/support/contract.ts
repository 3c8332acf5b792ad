// Checks an answer of the service against its OpenAPI document (openapi.json). support/http.ts runs every answer the
// tests get through `checkReply`, so a test that sees an answer the document does not allow fails, whatever it asserts.
import type { IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { setShouldValidateFormat, validate, type Validator } from '@hyperjump/json-schema/openapi-3-1';
import '@hyperjump/json-schema/formats';
import { OPENAPI_PATH } from '../../src/app.js';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

interface Schema {
  $ref?: string;
  [keyword: string]: unknown;
}

interface Response {
  $ref?: string;
  headers?: Record<string, { required?: boolean; schema: Schema }>;
  content?: Record<string, { schema: Schema }>;
}

interface Operation {
  responses: Record<string, Response>;
}

type PathItem = Partial<Record<string, Operation>>;

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Response> };
}

export const openapi = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as OpenApiDocument;

// The file's own URL: hyperjump reads it as an OpenAPI 3.1 document (by its name) and resolves its $refs in it.
const DOCUMENT_URL = OPENAPI_PATH.href;
// `format` (date-time) is checked too, not only annotated.
setShouldValidateFormat(true);

/** A JSON value, as hyperjump types it. */
type Json = Parameters<Validator>[0];

const validators = new Map<string, Promise<Validator>>();

/** The problems `value` has against the schema at `pointer` (a JSON pointer into the document); empty when valid. */
export async function schemaProblems(pointer: string, value: unknown): Promise<string[]> {
  let validator = validators.get(pointer);
  if (!validator) {
    validator = validate(`${DOCUMENT_URL}#${encodeURI(pointer)}`);
    validators.set(pointer, validator);
  }
  const output = (await validator)(value as Json, 'BASIC');
  if (output.valid) return [];
  return (output.errors ?? []).map((error) => {
    const keyword = decodeURI(error.absoluteKeywordLocation.replace(`${DOCUMENT_URL}#`, ''));
    return `${error.instanceLocation} fails ${keyword}: ${JSON.stringify(valueAt(keyword) ?? null).slice(0, 120)}`;
  });
}

/** What the document holds at `pointer`, to show which rule an answer broke. */
function valueAt(pointer: string): unknown {
  const tokens = pointer.split('/').slice(1).map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
  return tokens.reduce<unknown>((node, token) => (node as Record<string, unknown> | undefined)?.[token], openapi);
}

/** The problems of the document itself against the OpenAPI 3.1 schema (with its schemas in the base dialect). */
export async function documentProblems(document: unknown): Promise<string[]> {
  const output = await validate('https://spec.openapis.org/oas/3.1/schema-base', document as Json, 'BASIC');
  if (output.valid) return [];
  return (output.errors ?? []).map((error) => `${error.instanceLocation}: fails ${error.absoluteKeywordLocation}`);
}

const escapePointer = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

const pathTemplates = Object.keys(openapi.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replaceAll('.', '\\.')}$`),
}));

/** The `Allow` header the document gives a path: what its OPTIONS answers. */
function documentedAllow(template: string): string | undefined {
  const allow = openapi.paths[template]?.options?.responses['204']?.headers?.Allow?.schema.enum;
  return Array.isArray(allow) ? String(allow[0]) : undefined;
}

/** The answers every request may get that is not a documented operation's: refused before routing, or no route. */
const UNDOCUMENTED_ANSWERS: Record<number, string> = {
  401: '#/components/responses/Unauthorized',
  403: '#/components/responses/Forbidden',
  414: '#/components/responses/UriTooLong',
  431: '#/components/responses/HeadersTooLarge',
};

/**
 * The problems of `answer` to `method target` against the document; empty when it conforms. Besides the documented
 * operations: a path the document does not have gets a 404 Error; a method a path does not serve gets a 405 Error
 * with the path's Allow; either may instead be refused before routing, as the document's 401, 403, 414 or 431; HEAD
 * gets what GET would, without a body.
 */
export async function replyProblems(method: string, target: string, answer: Answer): Promise<string[]> {
  const pathname = new URL(target, 'http://service').pathname;
  const path = pathTemplates.find(({ pattern }) => pattern.test(pathname));
  // `status` (404 or 405) with an Error body, or one of the answers given before routing.
  const undocumented = async (status: number): Promise<string[]> => {
    const allowed = [status, ...Object.keys(UNDOCUMENTED_ANSWERS).map(Number)];
    if (!allowed.includes(answer.status)) return [`status ${answer.status}, where the document allows ${allowed.join(', ')}`];
    const reference = UNDOCUMENTED_ANSWERS[answer.status];
    return reference ? responseProblems(method, answer, reference) : bodyProblems(answer, '/components/schemas/Error', method);
  };
  if (!path) return undocumented(404);
  const item = openapi.paths[path.template] ?? {};
  const documentedMethod = method === 'HEAD' ? 'get' : method.toLowerCase();
  const operation = item[documentedMethod];
  if (!operation) {
    const problems = await undocumented(405);
    if (answer.status === 405 && answer.headers.allow !== documentedAllow(path.template)) {
      problems.push(`Allow is ${String(answer.headers.allow)}, where the document says ${String(documentedAllow(path.template))}`);
    }
    return problems;
  }
  const response = operation.responses[String(answer.status)];
  if (!response) return [`status ${answer.status} is not documented for ${method} ${path.template}`];
  return responseProblems(method, answer, response.$ref ?? `#/paths/${escapePointer(path.template)}/${documentedMethod}/responses/${answer.status}`);
}

/** The problems of `answer` against the response object at `reference` (`#/...`, itself or a $ref to one). */
async function responseProblems(method: string, answer: Answer, reference: string): Promise<string[]> {
  const responsePointer = reference.slice(1);
  const response = (valueAt(responsePointer) ?? {}) as Response;
  if (response.$ref) return responseProblems(method, answer, response.$ref);
  const problems: string[] = [];
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const value = answer.headers[name.toLowerCase()];
    if (value === undefined) {
      if (header.required) problems.push(`header ${name} is missing`);
      continue;
    }
    const headerProblems = await schemaProblems(`${responsePointer}/headers/${name}/schema`, value);
    problems.push(...headerProblems.map((problem) => `header ${name}: ${problem}`));
  }
  if (response.content) problems.push(...(await bodyProblems(answer, `${responsePointer}/content/application~1json/schema`, method)));
  else if (answer.text !== '') problems.push(`a body where the document has none: ${answer.text.slice(0, 200)}`);
  return problems;
}

async function bodyProblems(answer: Answer, schemaPointer: string, method: string): Promise<string[]> {
  const type = answer.headers['content-type'] ?? '';
  if (type !== 'application/json; charset=utf-8') return [`Content-Type ${type}, not application/json; charset=utf-8`];
  if (method === 'HEAD') return answer.text === '' ? [] : ['a body in an answer to HEAD'];
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return [`a body that is not JSON: ${answer.text.slice(0, 200)}`];
  }
  return (await schemaProblems(schemaPointer, body)).map((problem) => `body: ${problem}`);
}

/** Throws, listing every problem, unless `answer` conforms to the document. */
export async function checkReply(method: string, target: string, answer: Answer): Promise<void> {
  const problems = await replyProblems(method, target, answer);
  if (problems.length > 0) {
    throw new Error(`${method} ${target.slice(0, 100)} → ${answer.status} breaks openapi.json:\n  ${problems.join('\n  ')}\n  body: ${answer.text.slice(0, 300)}`);
  }
}
