// The /tasks routes: list, create, read, update, delete.
import { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { Types, type Connection, type QueryFilter } from 'mongoose';
import type { DatabaseCalls } from './database-calls.js';
import { DATABASE_TIMEOUTS, isDuplicateKey } from './db.js';
import { HttpError } from './errors.js';
import { errorAnswer, fingerprintOf, IdempotencyKeys, idempotencyKeyOf, sendAnswer, type StoredAnswer } from './idempotency.js';
import { bodyBytesOf, parseJsonBody, readBody } from './json-body.js';
import { serveMethods } from './methods.js';
import { serializeTask, taskFromJson, taskModel, type Task, type TaskJson } from './task-model.js';
import {
  createTaskBody,
  LIST_OFFSET_MAX,
  listTasksQuery,
  parseRequest,
  rejectQuery,
  TASK_ID_RULE,
  taskIdParams,
  updateTaskBody,
  type ListTasksQuery,
  type Sort,
} from './validation.js';

/** Each `sort` value as a MongoDB sort: the time, then the id in the same direction, so that the order is stable. */
const sortOrders: Record<Sort, Record<string, 1 | -1>> = {
  created_at: { createdAt: 1, _id: 1 },
  '-created_at': { createdAt: -1, _id: -1 },
  updated_at: { updatedAt: 1, _id: 1 },
  '-updated_at': { updatedAt: -1, _id: -1 },
};

/** `clock` gives the time for created_at and updated_at, and for Idempotency-Keys (tests move it on). */
export function tasksRouter(connection: Connection, database: DatabaseCalls, clock: () => Date): Router {
  const Task = taskModel(connection);
  // Inserts the task a 201 answer holds; once only, whoever calls it (a retry with the same Idempotency-Key may).
  const insertTaskOf = async (answer: StoredAnswer): Promise<void> => {
    try {
      await Task.create(taskFromJson(JSON.parse(answer.body) as TaskJson));
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  };
  const keys = new IdempotencyKeys(connection, clock, insertTaskOf);
  const router = Router({ caseSensitive: true });

  const list: RequestHandler = async (req, res) => {
    const query = parseRequest(listTasksQuery, req.query, 'query');
    const filter = filterOf(query);
    const [tasks, total] = await database
      .begin()
      .read(() => Promise.all([Task.find(filter).sort(sortOrders[query.sort]).skip(query.offset).limit(query.limit), Task.countDocuments(filter)]));
    const { limit, offset } = query;
    res.json({ items: tasks.map(serializeTask), total, limit, offset, next: nextPage(req.baseUrl, query, total) });
  };

  /** The answer to a create, decided before anything is written: 201 with the new task, or a 4xx for a bad body. */
  const createAnswer = (req: Request, res: Response): StoredAnswer => {
    const fields = parseRequest(createTaskBody, parseJsonBody(req, res), 'body');
    const now = clock();
    const task = serializeTask({
      _id: new Types.ObjectId(),
      title: fields.title,
      description: fields.description ?? '',
      done: fields.done ?? false,
      createdAt: now,
      updatedAt: now,
    });
    return { status: 201, body: JSON.stringify(task), location: `${req.baseUrl}/${task.id}` };
  };

  const create: RequestHandler = async (req, res) => {
    const key = idempotencyKeyOf(req);
    if (key === undefined) {
      const answer = createAnswer(req, res);
      await database.begin().write(() => insertTaskOf(answer));
      sendAnswer(res, answer, false);
      return;
    }
    let answer: StoredAnswer;
    try {
      answer = createAnswer(req, res);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      answer = errorAnswer(error);
    }
    const fingerprint = fingerprintOf(req.method, `${req.baseUrl}${req.path}`, bodyBytesOf(res));
    const stored = await keys.answer(database.begin(), key, fingerprint, answer);
    sendAnswer(res, stored.answer, stored.replayed);
  };

  const read: RequestHandler = async (req, res) => {
    const id = taskId(req);
    const task = await database.begin().read(() => Task.findById(id));
    if (!task) throw taskNotFound(id);
    res.json(serializeTask(task));
  };

  // One $set, atomic on MongoDB, and never two at once for one task (DatabaseCalls.write), as FerretDB needs. The time
  // is taken when the update is sent, and $max keeps updated_at from moving back, whatever the order of arrival.
  const update: RequestHandler = async (req, res) => {
    const body = parseJsonBody(req, res);
    const id = taskId(req);
    const changes = parseRequest(updateTaskBody, body, 'body');
    const task = await database.begin().write(
      () =>
        Task.findByIdAndUpdate(
          id,
          { $set: changes, $max: { updatedAt: clock() } },
          { returnDocument: 'after', runValidators: true, maxTimeMS: DATABASE_TIMEOUTS.statementMs },
        ),
      `task:${id.toLowerCase()}`,
    );
    if (!task) throw taskNotFound(id);
    res.json(serializeTask(task));
  };

  // Decided by the delete's own count: of concurrent deletes, only one removes the document. (A find-and-delete
  // returns the document to several of them on FerretDB.)
  const remove: RequestHandler = async (req, res) => {
    const id = taskId(req);
    const { deletedCount } = await database.begin().write(() => Task.deleteOne({ _id: id }));
    if (deletedCount === 0) throw taskNotFound(id);
    res.status(204).end();
  };

  serveMethods(router, '/', { GET: [list], POST: [rejectQuery, readBody, create] });
  serveMethods(router, '/:id', { GET: [rejectQuery, read], PATCH: [rejectQuery, readBody, update], DELETE: [rejectQuery, remove] });
  router.use(malformedId);
  return router;
}

/** `done` as is; `q` as a case-insensitive literal substring of the title, escaped so that it is never a pattern. */
function filterOf({ done, q }: ListTasksQuery): QueryFilter<Task> {
  return {
    ...(done === undefined ? {} : { done }),
    ...(q === undefined ? {} : { title: { $regex: escapeRegex(q), $options: 'i' } }),
  };
}

/** `text` as a regular expression that matches exactly it. NUL is written as \x00: MongoDB refuses it in a pattern. */
function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replaceAll('\0', '\\x00');
}

/** The relative URL of the page after this one, with the same filters and sort; null on the last page. */
function nextPage(path: string, { limit, offset, sort, done, q }: ListTasksQuery, total: number): string | null {
  const nextOffset = offset + limit;
  if (nextOffset >= total || nextOffset > LIST_OFFSET_MAX) return null;
  const params = new URLSearchParams({ limit: String(limit), offset: String(nextOffset), sort });
  if (done !== undefined) params.set('done', String(done));
  if (q !== undefined) params.set('q', q);
  return `${path}?${params.toString()}`;
}

function taskId(req: Request): string {
  return parseRequest(taskIdParams, req.params, 'path').id;
}

function taskNotFound(id: string): HttpError {
  return new HttpError(404, 'task not found', [{ field: 'id', message: `no task with id ${id}` }]);
}

/** express cannot decode a path like /tasks/%ZZ into an id, and says so with a URIError. */
const malformedId: ErrorRequestHandler = (error: unknown, _req, _res, next) => {
  if (!(error instanceof URIError)) {
    next(error);
    return;
  }
  next(new HttpError(400, 'invalid path', [{ field: 'id', message: TASK_ID_RULE }]));
};
