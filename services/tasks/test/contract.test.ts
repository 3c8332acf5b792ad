// openapi.json itself: a valid OpenAPI 3.1 document whose limits are the code's, and a checker (support/contract.ts,
// which every test's answers go through) that refuses answers the document does not allow.
import { expect } from 'chai';
import { DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH } from '../src/task-model.js';
import { LIST_LIMIT_MAX, LIST_OFFSET_MAX, SEARCH_MAX_LENGTH, SORTS } from '../src/validation.js';
import { documentProblems, openapi, replyProblems, schemaProblems, type Answer } from './support/contract.js';

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const task = {
  id: '6650f1c2a4b5c6d7e8f90123',
  title: 'Paint the fence',
  description: '',
  done: false,
  created_at: '2026-11-29T10:00:00.000Z',
  updated_at: '2026-11-29T10:00:00.000Z',
};
const answer = (status: number, body?: unknown, headers: Answer['headers'] = JSON_TYPE): Answer => ({
  status,
  headers,
  text: body === undefined ? '' : JSON.stringify(body),
});
const notFound = { error: 'not found', details: [{ message: 'no route for GET /nope' }] };
const unauthorized = { error: 'unauthorized', details: [{ field: 'Authorization', message: 'a key is required: Authorization: Bearer <key>' }] };
const forbidden = { error: 'forbidden', details: [{ message: 'caller requests may only read' }] };
const challenge = { ...JSON_TYPE, 'www-authenticate': 'Bearer realm="tasks", error="invalid_token"' };

describe('openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(openapi.openapi).to.match(/^3\.1\./);
    expect(await documentProblems(openapi)).to.deep.equal([]);
    // The check bites: a document with a response that has no description is not valid.
    const broken = structuredClone(openapi) as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const responses = broken.paths['/health']?.get?.responses ?? {};
    responses['200'] = { content: {} };
    expect(await documentProblems(broken)).not.to.deep.equal([]);
  });

  it('states the limits the code enforces', () => {
    const schemas = openapi.components.schemas;
    const list = openapi.paths['/tasks']?.get as unknown as { parameters: { name: string; schema: Record<string, unknown> }[] };
    const parameter = (name: string): Record<string, unknown> | undefined => list.parameters.find((p) => p.name === name)?.schema;
    expect(schemas.Description).to.include({ maxLength: DESCRIPTION_MAX_LENGTH });
    expect(schemas.Title?.pattern).to.include(`{0,${TITLE_MAX_LENGTH - 2}}`);
    expect(parameter('limit')).to.include({ minimum: 1, maximum: LIST_LIMIT_MAX });
    expect(parameter('offset')).to.include({ minimum: 0, maximum: LIST_OFFSET_MAX });
    expect(parameter('q')).to.include({ minLength: 1, maxLength: SEARCH_MAX_LENGTH });
    expect(parameter('sort')?.enum).to.deep.equal([...SORTS]);
  });

  it('declares the bearer scheme, needed by every operation but those of /health and /openapi.json, with their 401 and 403', () => {
    const document = openapi as unknown as {
      security: unknown;
      components: { securitySchemes: unknown };
      paths: Record<string, Record<string, { security?: unknown; responses?: Record<string, { $ref?: string }> }>>;
    };
    expect(document.components.securitySchemes).to.have.deep.property('bearer').that.includes({ type: 'http', scheme: 'bearer' });
    expect(document.security).to.deep.equal([{ bearer: [] }]);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const where = `${method.toUpperCase()} ${path}`;
        if (path === '/health' || path === '/openapi.json') {
          expect(operation.security, where).to.deep.equal([]);
          expect(operation.responses, where).not.to.have.any.keys('401', '403');
        } else {
          expect(operation.security, where).to.equal(undefined);
          expect(operation.responses?.['401'], where).to.deep.equal({ $ref: '#/components/responses/Unauthorized' });
          expect(operation.responses?.['403'], where).to.deep.equal({ $ref: '#/components/responses/Forbidden' });
        }
      }
    }
  });

  it('counts a title the way the service does: trimmed, in code points, 1 to 200', async () => {
    const title = (value: string): Promise<string[]> => schemaProblems('/components/schemas/Title', value);
    for (const good of ['x', 'x'.repeat(200), '😀'.repeat(200), ` \t${'x'.repeat(200)}\u3000\n`, 'a b']) expect(await title(good), good).to.deep.equal([]);
    for (const bad of ['', '   ', '\u0085', 'x'.repeat(201), '😀'.repeat(201)]) expect(await title(bad), bad).not.to.deep.equal([]);
  });
});

describe('the contract checker', () => {
  it('accepts answers the document allows', async () => {
    expect(await replyProblems('GET', `/tasks/${task.id}`, answer(200, task))).to.deep.equal([]);
    expect(await replyProblems('POST', '/tasks', answer(201, task, { ...JSON_TYPE, location: `/tasks/${task.id}` }))).to.deep.equal([]);
    expect(await replyProblems('GET', '/tasks', answer(200, { items: [task], total: 1, limit: 20, offset: 0, next: null }))).to.deep.equal([]);
    expect(await replyProblems('DELETE', `/tasks/${task.id}`, answer(204, undefined, {}))).to.deep.equal([]);
    expect(await replyProblems('HEAD', `/tasks/${task.id}`, answer(200, undefined, JSON_TYPE))).to.deep.equal([]);
    expect(await replyProblems('OPTIONS', '/health', answer(204, undefined, { allow: 'GET, HEAD, OPTIONS' }))).to.deep.equal([]);
    expect(await replyProblems('GET', '/nope', answer(404, notFound))).to.deep.equal([]);
    expect(await replyProblems('PUT', '/health', answer(405, notFound, { ...JSON_TYPE, allow: 'GET, HEAD, OPTIONS' }))).to.deep.equal([]);
    for (const [method, target] of [['GET', '/tasks'], ['PATCH', `/tasks/${task.id}`], ['GET', '/nope'], ['PUT', '/health']]) {
      expect(await replyProblems(method ?? '', target ?? '', answer(401, unauthorized, { ...JSON_TYPE, 'www-authenticate': 'Bearer realm="tasks"' }))).to.deep.equal([]);
      expect(await replyProblems(method ?? '', target ?? '', answer(403, forbidden))).to.deep.equal([]);
    }
  });

  // Each a small deliberate bug in an answer: the checker must name it.
  const wrong: [string, string, string, Answer, RegExp][] = [
    ['camelCase times', 'GET', `/tasks/${task.id}`, answer(200, { ...task, created_at: undefined, createdAt: task.created_at }), /created_at|createdAt/],
    ['a missing field', 'GET', `/tasks/${task.id}`, answer(200, { ...task, done: undefined }), /done/],
    ['a title over 200 characters', 'GET', `/tasks/${task.id}`, answer(200, { ...task, title: 'x'.repeat(201) }), /title/],
    ['a time without milliseconds', 'GET', `/tasks/${task.id}`, answer(200, { ...task, updated_at: '2026-11-29T10:00:00Z' }), /updated_at/],
    ['the old list key', 'GET', '/tasks', answer(200, { tasks: [task], total: 1, limit: 20, offset: 0, next: null }), /items|tasks/],
    ['a list without next', 'GET', '/tasks', answer(200, { items: [], total: 0, limit: 20, offset: 0 }), /next/],
    ['a 500', 'GET', '/tasks', answer(500, { error: 'internal error', details: [] }), /status 500/],
    ['an undocumented 404', 'POST', '/tasks', answer(404, notFound), /status 404/],
    ['an error detail named by path', 'GET', `/tasks/x`, answer(400, { error: 'invalid path', details: [{ path: 'params.id', message: 'm' }] }), /path/],
    ['an error without details', 'GET', `/tasks/x`, answer(400, { error: 'invalid path' }), /details/],
    ['a text/html error', 'GET', '/tasks', answer(414, undefined, { 'content-type': 'text/html' }), /Content-Type/],
    ['an empty 431', 'GET', '/tasks', answer(431, undefined, {}), /Content-Type/],
    ['a create without Location', 'POST', '/tasks', answer(201, task), /Location/],
    ['a 204 with a body', 'DELETE', `/tasks/${task.id}`, answer(204, { ok: true }), /body/],
    ['a body in an answer to HEAD', 'HEAD', `/tasks/${task.id}`, answer(200, task), /HEAD/],
    ['OPTIONS with the wrong Allow', 'OPTIONS', '/tasks', answer(204, undefined, { allow: 'GET, POST' }), /Allow/],
    ['405 without Allow', 'PUT', '/health', answer(405, notFound), /Allow/],
    ['404 for a wrong method', 'PUT', '/health', answer(404, notFound), /status 404/],
    ['200 for an unknown path', 'GET', '/nope', answer(200, task), /status 200/],
    ['a 401 without WWW-Authenticate', 'GET', '/tasks', answer(401, unauthorized), /WWW-Authenticate/],
    ['a 401 with another challenge', 'GET', '/tasks', answer(401, unauthorized, { ...JSON_TYPE, 'www-authenticate': 'Basic realm="tasks"' }), /WWW-Authenticate/],
    ['a 401 with another message', 'GET', '/tasks', answer(401, { ...unauthorized, details: [{ field: 'Authorization', message: 'bad key msk_abc' }] }, challenge), /message/],
    ['a 401 on a public route', 'GET', '/health', answer(401, unauthorized, challenge), /status 401/],
    ['a 401 without a WWW-Authenticate on a path that is no route', 'GET', '/nope', answer(401, unauthorized), /WWW-Authenticate/],
    ['a 403 naming a field', 'POST', '/tasks', answer(403, { ...forbidden, details: [{ field: 'Authorization', message: 'caller requests may only read' }] }), /details/],
    ['a 403 on a public route', 'GET', '/openapi.json', answer(403, forbidden), /status 403/],
    ['a 503 health with the old database value', 'GET', '/health', answer(503, { status: 'unavailable', database: 'disconnected', error: 'database unreachable', details: [] }), /database/],
  ];
  for (const [name, method, target, bad, says] of wrong) {
    it(`refuses ${name}`, async () => {
      const problems = await replyProblems(method, target, bad);
      expect(problems).not.to.deep.equal([]);
      expect(problems.join('\n')).to.match(says);
    });
  }
});
