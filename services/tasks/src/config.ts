// Reads the service's settings from the environment and refuses to start on a missing or bad one.
import { z } from 'zod';

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

export interface Config {
  port: number;
  mongodbUri: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Logs ship to Logsene only when a token is set. */
  logseneToken: string | undefined;
  /** Overrides the Logsene receiver URL; unset means Sematext's default receiver. */
  logseneUrl: string | undefined;
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
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates `env` and returns the settings; throws a ConfigError naming every bad variable (never its value). */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const parsed = result.data;
  return {
    port: parsed.PORT,
    mongodbUri: parsed.MONGODB_URI,
    logLevel: parsed.LOG_LEVEL,
    logseneToken: parsed.LOGSENE_TOKEN,
    logseneUrl: parsed.LOGSENE_URL,
  };
}
