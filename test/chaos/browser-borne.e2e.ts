import { createTrainingEngine } from '@nnq/engine-onnx';
import { KeySchema } from '@nnq/protocol';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster';
import { until } from '../support/processes';
import { exampleConfig, modelParams, submitRun, waitForRun, type RunView } from '../support/runs';
import { rawRequest, stalledReader, type RawAnswer } from './browser-borne/raw-http';

// Issue #24, requests a browser can be made to send, and bodies and readers that cost the
// coordinator without bound: each is refused or dropped with a clear answer that leaks nothing,
// and a run training beside them ends with its fault-free bytes.
const spirals = { ...exampleConfig('spirals.json'), name: 'beside', epochs: 6 };
const xor = { ...exampleConfig('xor.json'), name: 'xor', steps: 20 };
const sweep = JSON.parse(readFileSync(`${__dirname}/../../examples/sweep-spirals.json`, 'utf8')) as {
  space: Record<string, unknown>;
};
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const bytesOf = (p: Float32Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength);
const json = { 'content-type': 'application/json' };

describe('browser-borne requests, unbounded bodies and slow readers', () => {
  const redisUrl = inject('redisUrl');
  const cluster = new TestCluster(redisUrl, 'browser', { NNQ_CHAOS_SHARD_DELAY_MS: '20' });
  const keys = new KeySchema(cluster.prefix);
  const redis = new Redis(redisUrl);
  let workerBase = '';
  let beside: RunView;
  let trained = '';

  /** The answer's JSON message (and problems): nothing of the server's own. */
  const refusal = (a: RawAnswer): string => {
    const body = JSON.parse(a.text) as { message: string; problems?: string[] };
    const text = [body.message, ...(body.problems ?? [])].join('\n');
    for (const secret of [redisUrl, cluster.dataDir, cluster.prefix, 'NNQ_HOST=', '    at ']) {
      expect(text).not.toContain(secret);
    }
    expect(a.headers['access-control-allow-origin']).toBeUndefined();
    return text;
  };

  beforeAll(async () => {
    await cluster.startCoordinator();
    const worker = await cluster.addWorker();
    await cluster.addWorker();
    workerBase = `http://127.0.0.1:${(await worker.waitFor(/on http:\/\/127\.0\.0\.1:(\d+)/))[1]}`;
    trained = (await submitRun(cluster.base, xor)).id;
    expect((await waitForRun(cluster.base, trained)).state).toBe('completed');
    beside = await submitRun(cluster.base, spirals);
  });

  afterAll(async () => {
    redis.disconnect();
    await cluster.stop();
  });

  it('refuses a Host that is not its own (DNS rebinding) on the coordinator and the worker', async () => {
    for (const [base, path] of [
      [cluster.base, '/runs'],
      [cluster.base, '/events'],
      [workerBase, '/metrics'],
    ]) {
      const a = await rawRequest(base, 'GET', path, { host: 'rebind.attacker.example:3000' });
      expect(a.status, path).toBe(421);
      expect(refusal(a)).toMatch(
        /^this server does not answer to the host "rebind\.attacker\.example:3000": .*NNQ_ALLOWED_HOSTS$/,
      );
    }
    expect((await rawRequest(cluster.base, 'GET', '/runs', { host: 'localhost' })).status).toBe(200);
  });

  it('refuses mutations from another origin, and form bodies, leaving the run running', async () => {
    const cancel = `/runs/${beside.id}/cancel`;
    const foreign = await rawRequest(cluster.base, 'POST', cancel, { origin: 'https://attacker.example' });
    expect(foreign.status).toBe(403);
    expect(refusal(foreign)).toMatch(/^a request from another origin \("https:\/\/attacker\.example"\) may not change/);
    const crossSite = await rawRequest(
      cluster.base,
      'POST',
      '/runs',
      { ...json, 'sec-fetch-site': 'cross-site' },
      '{}',
    );
    expect(crossSite.status).toBe(403);
    expect(refusal(crossSite)).toMatch(/^a cross-site request may not change anything here/);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const [path, body] of [
      [cancel, 'x=1'],
      [cancel, ''],
      ['/runs', 'name=xor&steps=1'],
    ]) {
      const a = await rawRequest(cluster.base, 'POST', path, form, body);
      expect(a.status, path).toBe(415);
      expect(refusal(a)).toBe(
        'the request body must be JSON (content-type: application/json), got application/x-www-form-urlencoded',
      );
    }
    const options = await rawRequest(cluster.base, 'OPTIONS', '/runs', {
      origin: 'https://attacker.example',
      'access-control-request-method': 'POST',
    });
    expect(options.headers['access-control-allow-origin']).toBeUndefined();
    const run = (await (await fetch(`${cluster.base}/runs/${beside.id}`)).json()) as RunView;
    expect(['queued', 'running']).toContain(run.state);
  });

  it('refuses deeply nested sweep, run and predict bodies with 400 and the path, never a 500', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        '/sweeps',
        JSON.stringify(sweep).replace('"space":{', `"space":{"epochs":{"type":"choice","values":[${deep(20_000)}]},`),
        /^space\.epochs\.values(\[0\]){29}: is nested more than 32 levels deep$/,
      ],
      [
        '/runs',
        JSON.stringify(xor).replace('"model":{', `"model":{"x":${deep(20_000)},`),
        /^model\.x(\[0\]){30}: is nested/,
      ],
      [
        `/runs/${trained}/predict`,
        `{"inputs":${deep(20_000)}}`,
        /^inputs(\[0\]){31}: is nested more than 32 levels deep$/,
      ],
      [`/runs/${trained}/predict`, `{"inputs":[${'[0,1],'.repeat(1 << 20)}[0,1]]}`, /^inputs: has 1048577 elements/],
    ];
    for (const [path, body, problem] of cases) {
      const a = await rawRequest(cluster.base, 'POST', path, json, body);
      expect(a.status, path).toBe(400);
      expect(refusal(a)).toMatch(new RegExp(`^invalid request body\\n${problem.source.slice(1)}`));
    }
  });

  it('refuses names that are not printable text, and sweep keys it would not apply', async () => {
    const named = (name: string) => JSON.stringify({ ...xor, name });
    const cases: Array<[string, string, RegExp]> = [
      ['/runs', named('ok\u009b31m'), /^name: must be printable text: U\+009B at character 2 is a control character$/],
      ['/runs', named('gpj.\u202eexe'), /^name: must be printable text: U\+202E at character 4 is a bidi control$/],
      ['/runs', named('x').replace('"x"', '"x\\ud800"'), /^name: must be printable text: U\+D800 at character 1/],
      ['/runs', named('del\u007f'), /^name: must be printable text: U\+007F/],
      ['/sweeps', JSON.stringify({ ...sweep, name: 'a\u2066b' }), /^name: must be letters, digits, _ \. -$/],
      [
        '/sweeps',
        JSON.stringify(sweep).replace('"space":{', '"space":{"__proto__":{"type":"choice","values":[1]},'),
        /^space: the key "__proto__" is not allowed$/,
      ],
      [
        '/sweeps',
        JSON.stringify(sweep).replace('"space":{', '"space":{"optimizer.constructor":{"type":"choice","values":[1]},'),
        /^space\["optimizer\.constructor"\]: names constructor, which is not a config key$/,
      ],
    ];
    for (const [path, body, problem] of cases) {
      const a = await rawRequest(cluster.base, 'POST', path, json, body);
      expect(a.status, problem.source).toBe(400);
      expect(refusal(a).split('\n')).toContainEqual(expect.stringMatching(problem));
    }
    const listed = await rawRequest(cluster.base, 'GET', '/runs');
    expect(() => JSON.parse(listed.text) as unknown).not.toThrow();
    expect(listed.text).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]|\\ud[89ab]/iu);
  });

  it('drops 50 /events readers that stop reading, and keeps its memory', async () => {
    // a long history makes each snapshot ~6.5 MB: more than the kernel's buffers of a socket take
    const entry = (step: number) =>
      JSON.stringify({
        type: 'step',
        step,
        epoch: 0,
        loss: 0.123456789,
        accuracy: 0.5,
        lr: 0.01,
        gradNorm: 1,
        seconds: 0,
      });
    for (let from = 21; from <= 250_000; from += 10_000) {
      await redis.rpush(keys.runHistory(trained), ...Array.from({ length: 10_000 }, (_, i) => entry(from + i)));
    }
    // a reader that reads throughout: it keeps the feed's mirror loaded, gets the whole snapshot, and stays
    const live = await fetch(`${cluster.base}/events`);
    const liveReader = live.body!.getReader();
    let liveText = '';
    let liveEnded = false;
    const reading = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await liveReader.read();
        if (done) return void (liveEnded = true);
        if (liveText.length < 16 << 20) liveText += decoder.decode(value, { stream: true });
      }
    })();
    // the snapshot event and the blank line that ends it, found with indexOf: a regular expression over
    // the ~6.5 MB line every poll kept this reader's thread so busy under load that it fell behind and
    // the coordinator dropped it as not reading
    const snapshotEnded = () => {
      const at = liveText.indexOf('event: snapshot\n');
      return at >= 0 && liveText.indexOf('\n\n', at) >= 0;
    };
    await until(async () => snapshotEnded(), 120_000, 'the snapshot');
    expect(liveText).toContain(`[250000,0.123456789,0.5]`);

    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${cluster.coordinator!.pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    const readers = Array.from({ length: 50 }, () => stalledReader(cluster.base));
    const drops = () =>
      (cluster.coordinator!.output().match(/\/events: dropped a client that is not reading/g) ?? []).length;
    try {
      await until(async () => drops() >= 50, 120_000, '50 dropped /events clients');
    } finally {
      clearInterval(sampler);
    }
    // the coordinator closed them: once read again, every connection ends
    for (const r of readers) r.socket.resume();
    await Promise.all(readers.map((r) => r.closed));
    // 50 copies of the snapshot would be 300 MB or more; the frames are one shared Buffer
    expect(peak - before).toBeLessThan(64 << 20);
    expect(drops()).toBe(50);
    expect(liveEnded).toBe(false);
    await liveReader.cancel();
    await reading;
  });

  it('trains the run beside them to its fault-free bytes', async () => {
    const done = await waitForRun(cluster.base, beside.id, 200_000);
    expect(done.state).toBe('completed');
    const local = await trainLocal(parseRunConfig(spirals), { engine: createTrainingEngine });
    expect((await modelParams(cluster.base, beside.id)).equals(bytesOf(local.params))).toBe(true);
    expect(cluster.coordinator!.output()).not.toMatch(/ERROR \[ExceptionsHandler\]|Unhandled|RangeError/);
  });
});
