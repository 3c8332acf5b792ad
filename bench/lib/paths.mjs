// Where things are in the repository.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO = path.dirname(BENCH);
export const TASKS_DIR = path.join(REPO, 'services/tasks');
export const REQUESTS_DIR = path.join(REPO, 'services/requests');
export const VENV_PYTHON = path.join(REPO, '.cache/venv/bin/python');
export const VENV_GUNICORN = path.join(REPO, '.cache/venv/bin/gunicorn');
/** The Node the tasks image ships, from scripts/install.sh: the tasks service and its baseline run on it. */
export const TASKS_NODE = path.join(REPO, '.cache/node24/bin/node');
