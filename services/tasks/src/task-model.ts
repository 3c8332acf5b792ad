// The task document as stored in MongoDB, and the JSON shape the API (and the requests service) rely on.
import { Schema, type Connection, type HydratedDocument, type Model } from 'mongoose';

export const TITLE_MAX_LENGTH = 200;
export const DESCRIPTION_MAX_LENGTH = 2000;

export interface Task {
  title: string;
  description: string;
  done: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** The API's representation of a task. Other services depend on exactly these fields. */
export interface TaskJson {
  id: string;
  title: string;
  description: string;
  done: boolean;
  createdAt: string;
  updatedAt: string;
}

const taskSchema = new Schema<Task>(
  {
    title: { type: String, required: true, maxlength: TITLE_MAX_LENGTH },
    description: { type: String, default: '', maxlength: DESCRIPTION_MAX_LENGTH },
    done: { type: Boolean, default: false },
  },
  { timestamps: true, versionKey: false },
);
// Serves the list: newest first, optionally filtered on `done`.
taskSchema.index({ done: 1, createdAt: -1 });

/** The Task model bound to `connection` (each connection keeps its own models). */
export function taskModel(connection: Connection): Model<Task> {
  return (connection.models.Task as Model<Task> | undefined) ?? connection.model<Task>('Task', taskSchema);
}

export function serializeTask(task: HydratedDocument<Task>): TaskJson {
  return {
    id: task._id.toHexString(),
    title: task.title,
    description: task.description,
    done: task.done,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
  };
}
