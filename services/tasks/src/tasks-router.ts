// The /tasks routes: list, create, read, update, delete.
import { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { Connection, QueryFilter } from 'mongoose';
import { isConnected } from './db.js';
import { databaseUnavailable, HttpError } from './errors.js';
import { jsonBody } from './json-body.js';
import { serveMethods } from './methods.js';
import { serializeTask, taskModel, type Task } from './task-model.js';
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

export function tasksRouter(connection: Connection): Router {
  const Task = taskModel(connection);
  const router = Router();

  // Answer 503 at once while the driver knows the database is down, rather than waiting for a query to time out.
  // Called once the request is known to be valid: bad input is a 4xx whatever the database's state.
  const requireDatabase = (): void => {
    if (!isConnected(connection)) throw databaseUnavailable();
  };

  const list: RequestHandler = async (req, res) => {
    const query = parseRequest(listTasksQuery, req.query, 'query');
    requireDatabase();
    const filter = filterOf(query);
    const [tasks, total] = await Promise.all([
      Task.find(filter).sort(sortOrders[query.sort]).skip(query.offset).limit(query.limit),
      Task.countDocuments(filter),
    ]);
    const { limit, offset } = query;
    res.json({ items: tasks.map(serializeTask), total, limit, offset, next: nextPage(req.baseUrl, query, total) });
  };

  const create: RequestHandler = async (req, res) => {
    const fields = parseRequest(createTaskBody, req.body, 'body');
    requireDatabase();
    const task = await Task.create(fields);
    res.status(201).location(`${req.baseUrl}/${task._id.toHexString()}`).json(serializeTask(task));
  };

  const read: RequestHandler = async (req, res) => {
    const id = taskId(req);
    requireDatabase();
    const task = await Task.findById(id);
    if (!task) throw taskNotFound(id);
    res.json(serializeTask(task));
  };

  const update: RequestHandler = async (req, res) => {
    const id = taskId(req);
    const changes = parseRequest(updateTaskBody, req.body, 'body');
    requireDatabase();
    const task = await Task.findByIdAndUpdate(id, { $set: changes }, { returnDocument: 'after', runValidators: true });
    if (!task) throw taskNotFound(id);
    res.json(serializeTask(task));
  };

  // Decided by the delete's own count: of concurrent deletes, only one removes the document. (A find-and-delete
  // returns the document to several of them on FerretDB.)
  const remove: RequestHandler = async (req, res) => {
    const id = taskId(req);
    requireDatabase();
    const { deletedCount } = await Task.deleteOne({ _id: id });
    if (deletedCount === 0) throw taskNotFound(id);
    res.status(204).end();
  };

  serveMethods(router, '/', { GET: [list], POST: [rejectQuery, jsonBody, create] });
  serveMethods(router, '/:id', { GET: [rejectQuery, read], PATCH: [rejectQuery, jsonBody, update], DELETE: [rejectQuery, remove] });
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
