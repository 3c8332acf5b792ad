// What a request may contain. Anything else is a 400 that names the offending field.
import { z } from 'zod';
import { HttpError } from './errors.js';
import { DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH } from './task-model.js';

export const LIST_LIMIT_DEFAULT = 20;
export const LIST_LIMIT_MAX = 100;

const title = z.string().trim().min(1, 'must not be empty').max(TITLE_MAX_LENGTH);
const description = z.string().max(DESCRIPTION_MAX_LENGTH);
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

// Query values arrive as strings; a repeated parameter arrives as an array and is refused.
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

export const listTasksQuery = z.strictObject({
  limit: wholeNumber(1, LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  offset: wholeNumber(0, 100_000_000).default(0),
  done: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional(),
});

export const taskIdParams = z.strictObject({
  id: z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be a task id: 24 hexadecimal characters'),
});

/** Parses `input` (the request's body, query or params, named by `where`) or throws a 400 listing every problem. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown, where: 'body' | 'query' | 'params'): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new HttpError(
    400,
    `invalid ${where}`,
    result.error.issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message })),
  );
}
