// Questions tests ask the tasks API about what it stored.
import type { TaskJson } from '../../src/task-model.js';
import { request } from './http.js';

/** How many tasks the service at `url` has with exactly this title. */
export async function tasksTitled(url: string, title: string): Promise<number> {
  const list = (await request(url, `/tasks?q=${encodeURIComponent(title)}&limit=100`)).json as { items: TaskJson[] };
  return list.items.filter((task) => task.title === title).length;
}
