// What the tasks service's own environment schema (services/tasks/src/config.ts, compiled to dist/) makes of an
// environment, for the compose file check. The schema is not exported, so the names come from loadConfig itself: the
// environment it is handed records every variable read, which are exactly the variables the service knows.
//   node tasks_environment.mjs DIST_CONFIG_JS '{"MONGODB_URI": "..."}'
// prints {"known": [...], "required": [...], "problems": [...], "port": 8080 or null}
import { pathToFileURL } from 'node:url';

const [configJs, environmentJson] = process.argv.slice(2);
const { loadConfig, ConfigError } = await import(pathToFileURL(configJs).href);

function inspect(environment) {
  const read = new Set();
  const recording = new Proxy(environment, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name];
    },
  });
  try {
    return { read: [...read], problems: [], port: loadConfig(recording).port };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { read: [...read], problems: error.problems, port: null };
  }
}

// An empty environment: every variable is read, and only the required ones are reported, each message starting with
// the variable's name.
const empty = inspect({});
const given = inspect(JSON.parse(environmentJson));
console.log(JSON.stringify({
  known: empty.read,
  required: empty.problems.map((problem) => problem.split(' ')[0]),
  problems: given.problems,
  port: given.port,
}));
