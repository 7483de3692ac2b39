import { z } from 'zod';

/**
 * Every 4xx/5xx answer of the coordinator: NestJS's `{statusCode, message, error}`, or, for a
 * refused run, sweep, dataset or prediction, `{message, problems}` with each problem by path
 * (`layers[0].units: ...`) and no status code. `message` is a list when Nest's own pipes refused
 * the request.
 */
export const ErrorBodySchema = z.object({
  statusCode: z.number().optional(),
  message: z.union([z.string(), z.array(z.string())]),
  error: z.string().optional(),
  problems: z.array(z.string()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
