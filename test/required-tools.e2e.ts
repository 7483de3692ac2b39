import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hasTool, isCi, TOOLS, type ToolName } from './support/tools';

// The suites that need a tool from outside npm skip without it on a developer's machine, and fail
// by name under CI, where .ci/run must have installed it.
describe('hasTool: a missing tool skips a suite, or fails it under CI', () => {
  afterEach(() => vi.restoreAllMocks());
  const missing = () => false;

  it('answers true for a tool that is here, CI or not', () => {
    expect(hasTool('promtool', 'a suite', { CI: 'true' }, () => true)).toBe(true);
    expect(hasTool('promtool', 'a suite', {}, () => true)).toBe(true);
  });

  it('skips outside CI, saying which suite, what is missing and the package', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const CI of [undefined, '', '0', 'false']) {
      expect(hasTool('redis-cli', 'test/x.e2e.ts', { CI }, missing)).toBe(false);
    }
    expect(warn).toHaveBeenCalledTimes(4);
    expect(warn.mock.calls[0][0]).toMatch(
      /^skipping test\/x\.e2e\.ts: redis-cli is missing \(redis-cli on PATH\); apt-get install -y redis-tools$/,
    );
  });

  it.each([
    ['chromium', 'chromium', /\/usr\/bin\/chromium/],
    ['prometheus', 'prometheus', /prometheus on PATH/],
    ['promtool', 'prometheus', /promtool on PATH/],
    ['redis-cli', 'redis-tools', /redis-cli on PATH/],
    ['redis-server', 'redis-server', /redis-server on PATH/],
    ['fashion-mnist', 'dataset-fashion-mnist', /\/usr\/share\/datasets\/fashion-mnist\/train-images-idx3-ubyte\.gz/],
  ] as [ToolName, string, RegExp][])('throws under CI=true when %s is missing, naming %s', (name, pkg, looked) => {
    const call = () => hasTool(name, 'a suite', { CI: 'true' }, missing);
    expect(call).toThrow(new RegExp(`^CI=true but ${name} is missing: \\.ci/run must install ${pkg} \\(looked for `));
    expect(call).toThrow(looked);
  });

  it('counts CI=1 and CI=TRUE as CI', () => {
    expect([isCi({ CI: '1' }), isCi({ CI: 'TRUE' }), isCi({ CI: 'false' }), isCi({})]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('.ci/run checks for each tool on its own and installs its package, and runs the tests under CI', () => {
    const script = readFileSync(join(__dirname, '..', '.ci', 'run'), 'utf8');
    const wants = [...script.matchAll(/^want (\S+) (.+)$/gm)].map((m) => ({ pkg: m[1], check: m[2] }));
    for (const [name, tool] of Object.entries(TOOLS)) {
      const looksFor = tool.looksFor.replace(/ on PATH$/, '');
      const line = wants.find((w) => w.check.endsWith(` ${looksFor}`));
      expect(line, `.ci/run has no check for ${name} (${looksFor})`).toBeDefined();
      expect(line!.pkg, name).toBe(tool.pkg);
    }
    expect(script).toMatch(/^export CI="\$\{CI:-true\}"\nnpm test$/m);
  });
});
