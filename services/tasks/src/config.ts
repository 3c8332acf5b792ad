// Reads the service's settings from the environment and refuses to start on a missing or bad one.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { Callers, CallersError } from './callers.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

export interface Config {
  port: number;
  /** The address to listen on; unset means every interface (as a container needs). */
  host: string | undefined;
  mongodbUri: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Logs ship to Logsene only when a token is set. */
  logseneToken: string | undefined;
  /** Overrides the Logsene receiver URL; unset means Sematext's default receiver. */
  logseneUrl: string | undefined;
  /** Who may call the service: read once, at start, so a change reaches the service through a release (a restart). */
  callers: Callers;
}

// An empty variable (as `VAR=` in an env file writes) counts as unset.
const emptyAsUnset = (value: unknown): unknown => (value === '' ? undefined : value);

const envSchema = z.object({
  PORT: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number between 1 and 65535')
      .transform(Number)
      .refine((port) => port >= 1 && port <= 65535, 'must be a whole number between 1 and 65535')
      .default(8080),
  ),
  HOST: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .refine((host) => isIP(host) !== 0, 'must be an IP address to listen on, e.g. 127.0.0.1')
      .optional(),
  ),
  MONGODB_URI: z.preprocess(
    emptyAsUnset,
    z
      .string({ error: 'is required: a MongoDB connection string (mongodb://… or mongodb+srv://…)' })
      .regex(/^mongodb(\+srv)?:\/\/[^/?#]+/, 'must be a MongoDB connection string starting with mongodb:// or mongodb+srv://'),
  ),
  LOG_LEVEL: z.preprocess(
    emptyAsUnset,
    z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ),
  LOGSENE_TOKEN: z.preprocess(emptyAsUnset, z.string().optional()),
  LOGSENE_URL: z.preprocess(
    emptyAsUnset,
    z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  ),
  API_KEYS: z.preprocess(
    emptyAsUnset,
    z
      .string({ error: 'is required: the callers file, {"callers": {...}} (docs/api.md § Authentication), in API_KEYS or API_KEYS_FILE' })
      .transform((text, context) => {
        try {
          return Callers.parse(text);
        } catch (error) {
          if (!(error instanceof CallersError)) throw error;
          for (const message of error.problems) context.issues.push({ code: 'custom', message, input: undefined });
          return z.NEVER;
        }
      }),
  ),
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The variables that hold a secret: each may instead name a file that holds it, in NAME_FILE (docs/api.md). */
const SECRET_VARIABLES = ['MONGODB_URI', 'LOGSENE_TOKEN', 'API_KEYS'] as const;

interface SecretsResolved {
  env: NodeJS.ProcessEnv;
  /** The secrets whose value came from a file, so that a problem with it names NAME_FILE. */
  fromFile: Set<string>;
  /** A problem with a secret's NAME_FILE, by NAME: the one problem reported for that secret. */
  problems: Map<string, string>;
}

/** `env` with each NAME_FILE's content as NAME. Every problem is named, never with the file's content. */
function resolveSecretFiles(env: NodeJS.ProcessEnv): SecretsResolved {
  // Every variable the schema knows, read one by one (the compose check records which variables are read).
  const resolved: NodeJS.ProcessEnv = Object.fromEntries(Object.keys(envSchema.shape).map((name) => [name, env[name]]));
  const fromFile = new Set<string>();
  const problems = new Map<string, string>();
  for (const name of SECRET_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    if (file === undefined || file === '') continue;
    if (resolved[name] !== undefined && resolved[name] !== '') {
      problems.set(name, `${fileVariable} and ${name} are both set: set only one of them`);
      continue;
    }
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      problems.set(name, `${fileVariable} names a file that cannot be read (${code})`);
      continue;
    }
    // Files written by `echo` or an editor end with a newline that is not part of the secret; no secret this service
    // reads can begin or end with whitespace, so none is kept (as the requests service does).
    const value = content.trim();
    if (value === '') {
      problems.set(name, `${fileVariable} names an empty file`);
      continue;
    }
    resolved[name] = value;
    fromFile.add(name);
  }
  return { env: resolved, fromFile, problems };
}

/**
 * Validates `env` and returns the settings; throws a ConfigError naming every bad variable (never its value). A
 * secret may come from the file its NAME_FILE variable names.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const secrets = resolveSecretFiles(env);
  const result = envSchema.safeParse(secrets.env);
  const problems = [...secrets.problems.values()];
  for (const issue of result.error?.issues ?? []) {
    const name = issue.path.join('.');
    if (secrets.problems.has(name)) continue;
    problems.push(secrets.fromFile.has(name) ? `${name}_FILE (the file's content) ${issue.message}` : `${name} ${issue.message}`);
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const parsed = result.data;
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    mongodbUri: parsed.MONGODB_URI,
    logLevel: parsed.LOG_LEVEL,
    logseneToken: parsed.LOGSENE_TOKEN,
    logseneUrl: parsed.LOGSENE_URL,
    callers: parsed.API_KEYS,
  };
}
