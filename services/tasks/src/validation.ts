// What a request may contain. Anything else is a 400 that names the offending field.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { detailAbout, HttpError, type ErrorDetail } from './errors.js';
import { codePointLength, DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH } from './task-model.js';

export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;
export const LIST_OFFSET_MAX = 100_000;
export const SEARCH_MAX_LENGTH = 200;
export const SORTS = ['-created_at', 'created_at', '-updated_at', 'updated_at'] as const;
export type Sort = (typeof SORTS)[number];

/**
 * What "surrounding whitespace" means in the contract: Unicode's White_Space characters, as the requests service and
 * both OpenAPI documents read it (JavaScript's own trim() also takes U+FEFF and leaves U+0085).
 */
const surroundingWhiteSpace = /^\p{White_Space}+|\p{White_Space}+$/gu;

/**
 * Text of at most `max` code points (counted after trimming, when `trim`), without lone surrogates, which JSON's
 * `\ud800` escapes allow.
 */
const text = (max: number, { trim }: { trim: boolean }) =>
  (trim ? z.string().overwrite((value) => value.replace(surroundingWhiteSpace, '')) : z.string())
    .refine((value) => value.isWellFormed(), 'must be valid Unicode text: no lone surrogates')
    .refine((value) => codePointLength(value) <= max, `must be at most ${max} characters`);

const title = text(TITLE_MAX_LENGTH, { trim: true }).min(1, 'must not be empty');
const description = text(DESCRIPTION_MAX_LENGTH, { trim: false });
const done = z.boolean();

export const createTaskBody = z.strictObject({
  title,
  description: description.optional(),
  done: done.optional(),
});

export const updateTaskBody = z
  .strictObject({
    title: title.optional(),
    description: description.optional(),
    done: done.optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, 'must set at least one of title, description, done');

// Query values arrive as strings (query-string.ts refuses repeats and bad encodings).
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

export const listTasksQuery = z.strictObject({
  limit: wholeNumber(1, LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  offset: wholeNumber(0, LIST_OFFSET_MAX).default(0),
  sort: z.enum(SORTS, { error: `must be one of ${SORTS.join(', ')}` }).default('-created_at'),
  done: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional(),
  q: z
    .string()
    .refine((value) => value.length > 0 && codePointLength(value) <= SEARCH_MAX_LENGTH, `must be 1 to ${SEARCH_MAX_LENGTH} characters`)
    .optional(),
});
export type ListTasksQuery = z.output<typeof listTasksQuery>;

/** For the routes that take no query parameter: any is unknown. */
const noQuery = z.strictObject({});

export const rejectQuery: RequestHandler = (req, _res, next) => {
  parseRequest(noQuery, req.query, 'query');
  next();
};

export const TASK_ID_RULE = 'must be a task id: 24 hexadecimal characters';

export const taskIdParams = z.strictObject({
  id: z.string().regex(/^[0-9a-fA-F]{24}$/, TASK_ID_RULE),
});

/** Parses `input` (the request's body, query or params, named by `where`) or throws a 400 listing every problem. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown, where: 'body' | 'query' | 'path'): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new HttpError(400, `invalid ${where}`, result.error.issues.flatMap(detailsOf));
}

// One detail per problem: an unknown key is a problem of its own, named by the key.
function detailsOf(issue: z.core.$ZodIssue): ErrorDetail[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => detailAbout(key, key === '' ? 'an empty name is unknown' : 'is unknown'));
  return [detailAbout(issue.path.map(String).join('.'), issue.message)];
}
