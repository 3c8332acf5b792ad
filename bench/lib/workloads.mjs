// The mixed read/write workloads. Every connection repeats the same cycle of ten requests against a pre-seeded
// table: 7 reads (6 by id, 1 list page) and 3 writes (2 creates, 1 update). One list page in ten, not more:
// FerretDB's SQLite backend sorts and counts a list in memory over the whole collection, so list pages would
// otherwise be all the tasks run measures. Each write is recorded, so that the
// fault runs can check afterwards, in the database, every write that was acknowledged (and every one that got no
// answer).
//
// An operation is { request(): Built, answered(built, status, body) }, where Built is
// { method, path, body?, write? } and write describes the change for those checks:
//   { kind: 'create', marker }      marker: the unique title (tasks) or requester (requests) of the new row
//   { kind: 'update', id, status? } the row it changes; each update goes to a row no earlier update touched

import { AUTHORIZATION } from './services.mjs';

/** The tasks workload on the given seeded task ids (all with done: false). */
export function tasksWorkload(seededIds) {
  const writes = newWriteLog();
  // Tasks no update has touched yet: the seeded ones, then each one created under load.
  const notYetUpdated = shuffled(seededIds);
  const listOffsetMax = Math.max(0, Math.min(seededIds.length - 20, 200));

  const readById = {
    request: () => ({ method: 'GET', path: `/tasks/${pick(seededIds)}` }),
    answered: () => {},
  };
  // Half the pages are the newest tasks not done yet, half a page anywhere in the list.
  const listPage = {
    request: () => ({
      method: 'GET',
      path: Math.random() < 0.5 ? '/tasks?done=false&limit=20' : `/tasks?limit=20&offset=${randomInt(listOffsetMax)}`,
    }),
    answered: () => {},
  };
  const create = {
    request: () => {
      const marker = writes.newMarker();
      const body = JSON.stringify({ title: marker, description: 'created under load' });
      return { method: 'POST', path: '/tasks', body, write: { kind: 'create', marker } };
    },
    answered: (built, status, body) => {
      if (status !== 201) return;
      const { id } = JSON.parse(body);
      writes.acknowledged.created.push(id);
      notYetUpdated.push(id);
    },
  };
  // Sets done: true on a task that was not done, so that a task still not done afterwards lost its update. When
  // none is left (fast failures in an outage use them up without creating more), it reads instead.
  const update = {
    request: () => {
      const id = notYetUpdated.pop();
      if (id === undefined) return readById.request();
      return { method: 'PATCH', path: `/tasks/${id}`, body: JSON.stringify({ done: true }), write: { kind: 'update', id } };
    },
    answered: (built, status) => {
      if (built.write && status === 200) writes.acknowledged.updated.push(built.write.id);
    },
  };

  return {
    name: 'tasks',
    cycle: [readById, readById, listPage, readById, create, readById, update, readById, create, readById],
    writes,
  };
}

/** The requests workload on the given seeded request ids (all pending) and the ids of tasks that exist. */
export function requestsWorkload(seededIds, taskIds) {
  const writes = newWriteLog();
  // Requests still pending: a decision is final, so each update needs one of these.
  const pending = shuffled(seededIds);
  const listOffsetMax = Math.max(0, seededIds.length - 20);
  let decisions = 0;

  const readById = {
    request: () => ({ method: 'GET', path: `/requests/${pick(seededIds)}` }),
    answered: () => {},
  };
  // Half the pages are the oldest pending requests, half a page anywhere in the list.
  const listPage = {
    request: () => ({
      method: 'GET',
      path: Math.random() < 0.5 ? '/requests?status=pending&limit=20&sort=created_at' : `/requests?limit=20&offset=${randomInt(listOffsetMax)}`,
    }),
    answered: () => {},
  };
  // The service checks the task with the tasks service before it writes, as in AWS.
  const create = {
    request: () => {
      const marker = writes.newMarker();
      const body = JSON.stringify({ task_id: pick(taskIds), requester: marker, note: 'created under load' });
      return { method: 'POST', path: '/requests', body, write: { kind: 'create', marker } };
    },
    answered: (built, status, body) => {
      if (status !== 201) return;
      const { id } = JSON.parse(body);
      writes.acknowledged.created.push(id);
      pending.push(id);
    },
  };
  // As for tasks: when no pending request is left, it reads instead.
  const decide = {
    request: () => {
      const id = pending.pop();
      if (id === undefined) return readById.request();
      const status = decisions++ % 2 === 0 ? 'approved' : 'rejected';
      return { method: 'PATCH', path: `/requests/${id}`, body: JSON.stringify({ status }), write: { kind: 'update', id, status } };
    },
    answered: (built, status) => {
      if (built.write && status === 200) writes.acknowledged.updated.push({ id: built.write.id, status: built.write.status });
    },
  };

  return {
    name: 'requests',
    cycle: [readById, readById, listPage, readById, create, readById, decide, readById, create, readById],
    writes,
  };
}

/**
 * Headers for a built request: a new object each time, since autocannon adds its Content-Length to it. The bench's key
 * goes to the baselines too, which ignore it, so that both get the same bytes.
 */
export function headersFor(built) {
  const authorization = { authorization: AUTHORIZATION };
  return built.body === undefined ? authorization : { ...authorization, 'content-type': 'application/json' };
}

function newWriteLog() {
  const runId = Math.random().toString(36).slice(2, 8);
  let count = 0;
  const log = {
    acknowledged: { created: [], updated: [] },
    // Writes sent that got no answer at all (the connection closed first); filled by the SIGTERM client.
    unanswered: { created: [], updated: [] },
    newMarker: () => `bench ${runId} ${count++}`,
    recordUnanswered(built) {
      if (built.write?.kind === 'create') log.unanswered.created.push(built.write.marker);
      if (built.write?.kind === 'update') log.unanswered.updated.push(built.write);
    },
  };
  return log;
}

function pick(list) {
  return list[randomInt(list.length)];
}

function randomInt(below) {
  return Math.floor(Math.random() * below);
}

function shuffled(list) {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
