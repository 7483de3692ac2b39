import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatIssues, parseConfig, ProblemsError } from './problems';

describe('ProblemsError', () => {
  it('lists every problem under its heading, one an indented line, and keeps them', () => {
    const err = new ProblemsError('invalid thing', ['a: must be 1', 'b[0]: must be 2']);
    expect(err.message).toBe('invalid thing:\n  a: must be 1\n  b[0]: must be 2');
    expect(err.problems).toEqual(['a: must be 1', 'b[0]: must be 2']);
    expect(err.name).toBe('ProblemsError');
  });
});

describe('formatIssues', () => {
  it("names each zod issue by its path: fields with dots, indices in brackets, under a root, '(root)' for none", () => {
    const schema = z.object({ layers: z.array(z.object({ units: z.number().int('must be an integer') })) });
    const r = schema.safeParse({ layers: [{ units: 1 }, { units: 1.5 }] });
    expect(r.success).toBe(false);
    expect(formatIssues(r.error!.issues)).toEqual(['layers[1].units: must be an integer']);
    expect(formatIssues(r.error!.issues, 'model')).toEqual(['model.layers[1].units: must be an integer']);
    expect(formatIssues(z.number().safeParse('x').error!.issues)).toEqual([
      '(root): Invalid input: expected number, received string',
    ]);
  });
});

describe('parseConfig', () => {
  it("returns the parsed value, or throws 'invalid <what>' with every problem by path", () => {
    const schema = z.object({ lr: z.number().positive('must be greater than 0'), steps: z.number().int() });
    expect(parseConfig(schema, { lr: 1, steps: 2 }, 'thing')).toEqual({ lr: 1, steps: 2 });
    expect(() => parseConfig(schema, { lr: -1, steps: 2 }, 'thing')).toThrow(
      /^invalid thing:\n {2}lr: must be greater than 0$/,
    );
  });
});
