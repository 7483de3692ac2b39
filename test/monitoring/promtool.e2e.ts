import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool } from '../support/tools';
import { DEPLOY, run } from './support';

const skip = !hasTool('promtool', 'test/monitoring/promtool.e2e.ts');
const dir = join(DEPLOY, 'prometheus');

function ok(r: { code: number | null; stdout: string; stderr: string }): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/FAILED|error/i);
}

describe.skipIf(skip)('deploy/prometheus passes promtool', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nnq-promtool-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('check config prometheus.yml (and the rule file it names)', async () => {
    const r = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    ok(r);
    expect(r.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('check config prometheus-kubernetes.yml (relabelling checked without Kubernetes discovery too)', async () => {
    const file = join(dir, 'prometheus-kubernetes.yml');
    const r = await run('promtool', ['check', 'config', file]);
    if (r.code !== 0 && /field kubernetes_sd_configs not found/.test(r.stderr + r.stdout)) {
      // Debian's prometheus is built without Kubernetes discovery: check everything else, with the
      // same relabelling on file-discovered targets
      console.warn('promtool lacks kubernetes_sd_configs: checking prometheus-kubernetes.yml with file_sd_configs');
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/kubernetes_sd_configs:\n\s+- role: pod\n/);
      const substituted = text.replace(
        /kubernetes_sd_configs:\n\s+- role: pod\n/,
        "file_sd_configs:\n      - files: ['pods.json']\n",
      );
      writeFileSync(join(tmp, 'prometheus-kubernetes.yml'), substituted);
      copyFileSync(join(dir, 'alerts.yml'), join(tmp, 'alerts.yml'));
      ok(await run('promtool', ['check', 'config', join(tmp, 'prometheus-kubernetes.yml')]));
    } else {
      ok(r);
    }
  });

  it('check rules alerts.yml', async () => {
    const r = await run('promtool', ['check', 'rules', join(dir, 'alerts.yml')]);
    ok(r);
    expect(r.stdout).toMatch(/SUCCESS: 5 rules found/);
  });

  it('test rules alerts.test.yml: every alert firing and not firing', async () => {
    const r = await run('promtool', ['test', 'rules', join(dir, 'alerts.test.yml')]);
    ok(r);
    expect(r.stdout).toMatch(/SUCCESS/);
    const tests = readFileSync(join(dir, 'alerts.test.yml'), 'utf8');
    const alerts = [...readFileSync(join(dir, 'alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toHaveLength(5);
    for (const a of alerts) {
      // each alert has a case with exp_alerts: [] and one with an alert expected
      const cases = tests.split(/- eval_time:/).filter((c) => new RegExp(`alertname: ${a}\\n`).test(c));
      expect(
        cases.some((c) => /exp_alerts: \[\]/.test(c)),
        `${a} not firing`,
      ).toBe(true);
      expect(
        cases.some((c) => /exp_labels:/.test(c)),
        `${a} firing`,
      ).toBe(true);
    }
  });
});
