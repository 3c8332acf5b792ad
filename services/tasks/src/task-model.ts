// The task document as stored in MongoDB, its limits, and the JSON shape the API (and the requests service) rely on.
import { Schema, Types, type Connection, type Model } from 'mongoose';

/** Limits in characters: Unicode code points, as docs/api.md counts them (an emoji is one, not two UTF-16 units). */
export const TITLE_MAX_LENGTH = 200;
export const DESCRIPTION_MAX_LENGTH = 2000;

/** The number of code points in `text`; the one count both the request validation and the model use. */
export function codePointLength(text: string): number {
  // UTF-16 units, less one per surrogate pair (the two units of one code point outside the BMP).
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

export interface Task {
  title: string;
  description: string;
  done: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A task as stored, with its id. */
export type StoredTask = Task & { _id: Types.ObjectId };

/** The API's representation of a task. Other services depend on exactly these fields. */
export interface TaskJson {
  id: string;
  title: string;
  description: string;
  done: boolean;
  created_at: string;
  updated_at: string;
}

const atMost = (max: number) => ({
  validator: (value: string) => codePointLength(value) <= max,
  message: `must be at most ${max} characters`,
});

const taskSchema = new Schema<Task>(
  {
    title: { type: String, required: true, validate: atMost(TITLE_MAX_LENGTH) },
    description: { type: String, default: '', validate: atMost(DESCRIPTION_MAX_LENGTH) },
    done: { type: Boolean, default: false },
    // Set by the service (tasks-router.ts) from its clock: updatedAt only ever moves forward.
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
// Serve the list in each of its orders (a time, then _id), with and without the `done` filter. MongoDB walks an index
// either way, so one direction serves both.
for (const time of ['createdAt', 'updatedAt'] as const) {
  taskSchema.index({ [time]: 1, _id: 1 });
  taskSchema.index({ done: 1, [time]: 1, _id: 1 });
}

/** The Task model bound to `connection` (each connection keeps its own models). */
export function taskModel(connection: Connection): Model<Task> {
  return (connection.models.Task as Model<Task> | undefined) ?? connection.model<Task>('Task', taskSchema);
}

/** The stored task that `json` represents: the inverse of serializeTask. */
export function taskFromJson(json: TaskJson): StoredTask {
  return {
    _id: new Types.ObjectId(json.id),
    title: json.title,
    description: json.description,
    done: json.done,
    createdAt: new Date(json.created_at),
    updatedAt: new Date(json.updated_at),
  };
}

export function serializeTask(task: StoredTask): TaskJson {
  return {
    id: task._id.toHexString(),
    title: task.title,
    description: task.description,
    done: task.done,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}
