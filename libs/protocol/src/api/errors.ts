import { z } from 'zod';

/**
 * Every 4xx/5xx answer of the coordinator: NestJS's `{statusCode, message, error}`, with the
 * refused input's problems by path (`layers[0].units: ...`) for a 400. `message` is a list when
 * Nest's own pipes refused the request.
 */
export const ErrorBodySchema = z.object({
  statusCode: z.number(),
  message: z.union([z.string(), z.array(z.string())]),
  error: z.string().optional(),
  problems: z.array(z.string()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
