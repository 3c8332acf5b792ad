// The tasks baseline: the same queries as the tasks service, on the same collection, with node:http and the mongodb
// driver alone: no express, no mongoose, no validation library, no logging. It serves exactly what the tasks
// workload sends and answers with the same JSON, so that service/baseline shows what the service's stack costs.
//   PORT=… MONGODB_URI=mongodb://127.0.0.1:…/tasks node tasks-baseline.mjs
import http from 'node:http';
import { MongoClient, ObjectId } from 'mongodb';

// The driver options the service passes (services/tasks/src/db.ts connectOptions).
const client = new MongoClient(process.env.MONGODB_URI, { serverSelectionTimeoutMS: 2000, heartbeatFrequencyMS: 2000 });
await client.connect();
const tasks = client.db().collection('tasks');

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    const id = /^\/tasks\/([0-9a-f]{24})$/.exec(url.pathname)?.[1];
    if (url.pathname === '/tasks' && req.method === 'GET') return await list(url.searchParams, res);
    if (url.pathname === '/tasks' && req.method === 'POST') return await create(await readJson(req), res);
    if (id && req.method === 'GET') return await read(id, res);
    if (id && req.method === 'PATCH') return await update(id, await readJson(req), res);
    return send(res, 404, { error: 'not found' });
  } catch (error) {
    return send(res, 503, { error: 'database unreachable', details: [{ message: error.message }] });
  }
});

// The service's queries (tasks-router.ts), as mongoose sends them, for the default sort (the only one the workload
// asks for).
async function list(params, res) {
  const limit = Number(params.get('limit') ?? 20);
  const offset = Number(params.get('offset') ?? 0);
  const filter = params.has('done') ? { done: params.get('done') === 'true' } : {};
  const [found, total] = await Promise.all([
    tasks.find(filter).sort({ createdAt: -1, _id: -1 }).skip(offset).limit(limit).toArray(),
    tasks.countDocuments(filter),
  ]);
  const next = offset + limit < total ? `/tasks?limit=${limit}&offset=${offset + limit}&sort=-created_at` : null;
  send(res, 200, { items: found.map(serialize), total, limit, offset, next });
}

async function create(body, res) {
  const now = new Date();
  const task = { _id: new ObjectId(), title: body.title, description: body.description ?? '', done: body.done ?? false, createdAt: now, updatedAt: now };
  await tasks.insertOne(task);
  res.setHeader('location', `/tasks/${task._id.toHexString()}`);
  send(res, 201, serialize(task));
}

async function read(id, res) {
  const task = await tasks.findOne({ _id: new ObjectId(id) });
  if (!task) return send(res, 404, { error: 'task not found' });
  send(res, 200, serialize(task));
}

async function update(id, changes, res) {
  const task = await tasks.findOneAndUpdate(
    { _id: new ObjectId(id) },
    { $set: { ...changes, updatedAt: new Date() } },
    { returnDocument: 'after' },
  );
  if (!task) return send(res, 404, { error: 'task not found' });
  send(res, 200, serialize(task));
}

function serialize(task) {
  return {
    id: task._id.toHexString(),
    title: task.title,
    description: task.description,
    done: task.done,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString());
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => client.close().then(() => process.exit(0)));
  server.closeAllConnections();
});
