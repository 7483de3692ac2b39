import { describe, expect, it } from 'vitest';
import { csvField, sweepCsv } from './sweep-export';
import type { SweepView } from '@nnq/protocol';

describe('csvField', () => {
  it('keeps numbers numeric, negative ones too', () => {
    expect([0.25, -0.5, -3, 1e-7].map(csvField)).toEqual(['0.25', '-0.5', '-3', '1e-7']);
  });

  it.each([
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['+1+2', `"'+1+2"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\t=1', `"'\t=1"`],
    ['\r=1', `"'\r=1"`],
  ])('neutralises the formula cell %j', (value, cell) => {
    expect(csvField(value)).toBe(cell);
  });

  it('quotes RFC 4180 specials and leaves plain text alone', () => {
    expect(csvField('relu')).toBe('relu');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField([16, -1])).toBe('"[16,-1]"');
    expect(csvField(undefined)).toBe('');
    expect(csvField(-Infinity)).toBe(`"'-Infinity"`);
  });
});

describe('sweepCsv', () => {
  it('writes a formula-like choice value as text, and negative numbers as numbers', () => {
    const sweep = {
      config: { space: { 'model.layers[0].activation': {}, 'optimizer.lr': {} } },
      objective: { metric: 'loss', split: 'validation', mode: 'min' },
      leaderboard: [
        {
          index: 0,
          name: 's-t0',
          runId: 'r0',
          state: 'completed',
          params: { 'model.layers[0].activation': '=cmd|"/c calc"!A1', 'optimizer.lr': -0.01 },
          best: -1.5,
          step: 10,
          totalSteps: 10,
          epoch: 1,
        },
      ],
    } as unknown as SweepView;
    const [, row] = sweepCsv(sweep).split('\r\n');
    expect(row).toBe(`1,0,s-t0,r0,completed,"'=cmd|""/c calc""!A1",-0.01,-1.5,10,10,1,,`);
  });
});
