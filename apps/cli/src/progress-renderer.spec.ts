import { describe, expect, it } from 'vitest';
import { ProgressRenderer } from './progress-renderer';

function fakeOut(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, text: () => chunks.join(''), isTTY, columns: 200, write: (s: string) => chunks.push(s) };
}

const at = (step: number, state = 'running') => ({
  state,
  step,
  totalSteps: 10,
  epoch: 0,
  epochs: 1,
  loss: 0.5,
  accuracy: 0.5,
  samplesPerSecond: 100,
  etaSeconds: 10 - step,
});

describe('ProgressRenderer', () => {
  it('writes plain lines without escape codes when the output is not a TTY, at most one per period', () => {
    let now = 0;
    const out = fakeOut(false);
    const r = new ProgressRenderer(out, { plainEveryMs: 1000, now: () => now });
    r.update(at(1));
    now = 500;
    r.update(at(2));
    now = 1200;
    r.update(at(3));
    r.note('validation  loss 0.4');
    r.finish(at(10, 'completed'));
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^step 1\/10 \(10%\)/);
    expect(lines[1]).toMatch(/^step 3\/10/);
    expect(lines[3]).toMatch(/^step 10\/10 \(100%\).*completed$/);
    expect(out.text()).not.toMatch(/\x1b|\r/); // eslint-disable-line no-control-regex
  });

  it('does not repeat the last plain line on finish', () => {
    const out = fakeOut(false);
    const r = new ProgressRenderer(out);
    r.update(at(10, 'completed'));
    r.finish();
    expect(out.chunks).toHaveLength(1);
  });

  it('redraws one line in place with a bar on a TTY, and keeps notes above it', () => {
    let now = 0;
    const out = fakeOut(true);
    const r = new ProgressRenderer(out, { now: () => now });
    r.update(at(1));
    now = 50;
    r.update(at(2)); // throttled
    now = 200;
    r.update(at(5));
    r.note('validation  loss 0.4');
    r.finish(at(10, 'completed'));
    const text = out.text();
    expect(text.match(/\r\x1b\[2K/g)).toHaveLength(5); // eslint-disable-line no-control-regex
    expect(text).not.toMatch(/step 2\/10/);
    expect(text).toMatch(/\[#{12}\.{12}\] step 5\/10/);
    expect(text).toMatch(/\r\x1b\[2Kvalidation {2}loss 0\.4\n\r\x1b\[2K\[/); // eslint-disable-line no-control-regex
    expect(text.endsWith('completed\n')).toBe(true);
  });
});

describe('ProgressRenderer notes and the first step', () => {
  it('drops throttled notes that come too often, never plain ones', () => {
    let now = 0;
    const out = fakeOut(false);
    const r = new ProgressRenderer(out, { notesEveryMs: 1000, now: () => now });
    r.note('validation 1', true);
    now = 500;
    r.note('validation 2', true);
    r.note('the coordinator answers again');
    now = 1600;
    r.note('validation 3', true);
    expect(out.text()).toBe('validation 1\nthe coordinator answers again\nvalidation 3\n');
  });

  it('prints no plain line before the first step', () => {
    const out = fakeOut(false);
    const r = new ProgressRenderer(out, { plainEveryMs: 0 });
    r.update(at(0, 'queued'));
    expect(out.chunks).toEqual([]);
    r.update(at(1));
    expect(out.text()).toMatch(/^step 1\/10/);
  });
});
