import { describe, expect, it } from 'vitest';
import { formatRunTable, type RunView } from '../run-view';
import { printable } from './status.command';

describe('nnq status prints names escaped', () => {
  it('writes control, bidi and lone-surrogate characters of a name as \\uXXXX', () => {
    const run = { id: 'r1', name: 'evil\u001b[2J\u009b31m\u202eexe\ud800', state: 'running', step: 1, totalSteps: 2 };
    const [shown] = printable([run as unknown as RunView]);
    expect(shown.name).toBe('evil\\u001B[2J\\u009B31m\\u202Eexe\\uD800');
    const table = formatRunTable([shown]);
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(table).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\ud800-\udfff]/u);
    expect(table).toContain('evil\\u001B[2J');
  });
});
