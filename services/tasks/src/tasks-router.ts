// The /tasks routes: list, create, read, update, delete.
import { Router, type Request, type RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { isConnected } from './db.js';
import { databaseUnavailable, HttpError, methodNotAllowed } from './errors.js';
import { serializeTask, taskModel } from './task-model.js';
import { createTaskBody, listTasksQuery, parseRequest, taskIdParams, updateTaskBody } from './validation.js';

export function tasksRouter(connection: Connection): Router {
  const Task = taskModel(connection);
  const router = Router();

  // Answer 503 at once while the driver knows the database is down, rather than waiting for a query to time out.
  router.use((_req, _res, next) => {
    if (!isConnected(connection)) throw databaseUnavailable();
    next();
  });

  router
    .route('/')
    .get(async (req, res) => {
      const { limit, offset, done } = parseRequest(listTasksQuery, req.query, 'query');
      const filter = done === undefined ? {} : { done };
      const [tasks, total] = await Promise.all([
        Task.find(filter).sort({ createdAt: -1, _id: -1 }).skip(offset).limit(limit),
        Task.countDocuments(filter),
      ]);
      res.json({ tasks: tasks.map(serializeTask), total, limit, offset });
    })
    .post(requireJsonBody, async (req, res) => {
      const fields = parseRequest(createTaskBody, req.body, 'body');
      const task = await Task.create(fields);
      res.status(201).location(`${req.baseUrl}/${task._id.toHexString()}`).json(serializeTask(task));
    })
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/:id')
    .get(async (req, res) => {
      const task = await Task.findById(taskId(req));
      if (!task) throw taskNotFound(req);
      res.json(serializeTask(task));
    })
    .patch(requireJsonBody, async (req, res) => {
      const id = taskId(req);
      const changes = parseRequest(updateTaskBody, req.body, 'body');
      const task = await Task.findByIdAndUpdate(id, { $set: changes }, { returnDocument: 'after', runValidators: true });
      if (!task) throw taskNotFound(req);
      res.json(serializeTask(task));
    })
    .delete(async (req, res) => {
      const task = await Task.findByIdAndDelete(taskId(req));
      if (!task) throw taskNotFound(req);
      res.status(204).end();
    })
    .all(methodNotAllowed(['GET', 'PATCH', 'DELETE']));

  return router;
}

function taskId(req: Request): string {
  return parseRequest(taskIdParams, req.params, 'params').id;
}

function taskNotFound(req: Request): HttpError {
  return new HttpError(404, 'task not found', [{ path: 'params.id', message: `no task with id ${String(req.params.id)}` }]);
}

/** POST and PATCH take a JSON object; express.json() has parsed it when the Content-Type says JSON. */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  const type = req.is('application/json');
  if (type === null) throw new HttpError(400, 'invalid body', [{ path: 'body', message: 'a JSON object is required' }]);
  if (type === false) {
    throw new HttpError(415, 'unsupported media type', [{ path: 'headers.content-type', message: 'must be application/json' }]);
  }
  next();
};
