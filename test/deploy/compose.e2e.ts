import { EnvSchema } from '@nnq/config';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * No container engine here: this suite reads docker-compose.yml and the Dockerfile and checks that
 * every path, port, variable and command they name exists in the repository, in the built dist/
 * and in the apps' configuration (EnvSchema), so `docker compose up` has nothing left to guess.
 */
const ROOT = resolve(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown> | string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const rawCompose = read('docker-compose.yml');
/** Compose variables (`${NAME:-default}`) this file reads from the shell or .env. */
const composeVars = [...rawCompose.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::?-[^}]*)?\}/g)].map((m) => m[1]);
/** Compose interpolates after parsing: with no variables set, every `${NAME:-default}` is its default. */
const interpolate = (v: unknown): unknown =>
  typeof v === 'string'
    ? v.replace(/\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g, (_, d: string | undefined) => d ?? '')
    : Array.isArray(v)
      ? v.map(interpolate)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]))
        : v;
const compose = interpolate(parse(rawCompose, { merge: true })) as Compose;
const dockerfile = read('Dockerfile');
const services = compose.services;
const NNQ_APPS = ['coordinator', 'worker'];
/** Variables read by the third-party images, by service. */
const THIRD_PARTY_ENV: Record<string, RegExp> = {
  redis: /^REDISCLI_AUTH$/,
  grafana: /^GF_[A-Z0-9_]+$/,
  prometheus: /^$/,
};
const envNames = new Set(Object.keys(EnvSchema.shape));
const hostPort = (spec: string) => Number(spec.split(':').at(-2));
const containerPort = (spec: string) => Number(spec.split(':').at(-1));

describe('docker-compose.yml', () => {
  it('has Redis, the coordinator, scalable workers, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['coordinator', 'grafana', 'prometheus', 'redis', 'worker']);
    // a fixed container_name or host port would stop `--scale worker=N`
    expect(services.worker.ports ?? []).toEqual([]);
    expect(rawCompose).not.toMatch(/container_name/);
  });

  it('builds the nnq services from the Dockerfile in the repository, as one image', () => {
    for (const name of NNQ_APPS) {
      const s = services[name];
      expect(s.build, name).toBeDefined();
      expect(existsSync(join(ROOT, s.build!.context, s.build!.dockerfile ?? 'Dockerfile'))).toBe(true);
      for (const arg of Object.keys(s.build!.args ?? {})) expect(dockerfile).toMatch(new RegExp(`^ARG ${arg}=`, 'm'));
      expect(s.image).toBe(services.coordinator.image);
    }
  });

  it('mounts only files that exist, and declares every named volume', () => {
    for (const [name, s] of Object.entries(services))
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('.') || source.startsWith('/'))
          expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${source}`).toContain(source);
      }
  });

  it('sets only variables that EnvSchema or the third-party image reads', () => {
    for (const [name, s] of Object.entries(services))
      for (const key of Object.keys(s.environment ?? {})) {
        if (NNQ_APPS.includes(name)) expect(envNames, `${name}: ${key}`).toContain(key);
        else expect(key, `${name}: ${key}`).toMatch(THIRD_PARTY_ENV[name]);
      }
  });

  it('passes every nnq environment through the apps configuration as valid', () => {
    for (const name of NNQ_APPS) {
      const env = services[name].environment!;
      const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
      expect(parsed.error?.issues ?? [], name).toEqual([]);
    }
  });

  it('documents the compose variables it reads', () => {
    const doc = read('docs/deploy.md');
    for (const v of new Set(composeVars)) expect(doc, v).toContain(v);
  });

  it('gives Redis AOF everysec, noeviction and a password the apps use', () => {
    const cmd = services.redis.command!.join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--appendfsync everysec/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    const password = /--requirepass (\S+)/.exec(cmd)?.[1];
    expect(password).toBeTruthy();
    for (const name of NNQ_APPS) {
      const url = new URL(services[name].environment!.REDIS_URL);
      expect([url.hostname, url.port || '6379', decodeURIComponent(url.password)]).toEqual(['redis', '6379', password]);
    }
    expect(services.redis.environment!.REDISCLI_AUTH).toBe(password);
  });

  it('publishes the default ports, without a clash, and Prometheus scrapes the ports the apps listen on', () => {
    const defaults = EnvSchema.parse({});
    const c = services.coordinator;
    expect(Number(c.environment!.NNQ_PORT)).toBe(defaults.NNQ_PORT);
    expect(c.ports!.map(containerPort)).toEqual([defaults.NNQ_PORT]);
    expect(services.redis.ports!.map(containerPort)).toEqual([6379]);
    expect(services.prometheus.ports!.map(containerPort)).toEqual([9090]);
    expect(services.grafana.ports!.map(containerPort)).toEqual([3000]);
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map(hostPort));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const p of Object.values(services).flatMap((s) => s.ports ?? [])) expect(p).toMatch(/^127\.0\.0\.1:/);

    const prom = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const dns = prom.scrape_configs.flatMap((s) => s.dns_sd_configs ?? []);
    const portOf = (svc: string) => dns.find((d) => d.names.includes(svc))?.port;
    expect(portOf('coordinator')).toBe(defaults.NNQ_PORT);
    expect(portOf('worker')).toBe(Number(services.worker.environment!.NNQ_WORKER_PORT));
    // the image's defaults agree (the Dockerfile's HEALTHCHECK reads them)
    expect(dockerfile).toMatch(new RegExp(`NNQ_PORT=${defaults.NNQ_PORT}\\b`));
    expect(dockerfile).toMatch(new RegExp(`NNQ_WORKER_PORT=${services.worker.environment!.NNQ_WORKER_PORT}\\b`));
    expect(dockerfile).toMatch(/NNQ_HOST=0\.0\.0\.0/);
  });

  it('hands Prometheus its rules and Grafana its provisioning where their configs look', () => {
    const promMounts = Object.fromEntries(services.prometheus.volumes!.map((v) => v.split(':').slice(0, 2).reverse()));
    const config = promMounts['/etc/prometheus/prometheus.yml'];
    expect(config).toBe('./deploy/prometheus/prometheus.yml');
    const rules = (parse(read(config)) as { rule_files: string[] }).rule_files;
    for (const r of rules) expect(promMounts[`/etc/prometheus/${r}`], r).toBe(`./deploy/prometheus/${r}`);
    expect(services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');

    const grafMounts = Object.fromEntries(services.grafana.volumes!.map((v) => v.split(':').slice(0, 2).reverse()));
    expect(grafMounts['/etc/grafana/provisioning']).toBe('./deploy/grafana/provisioning');
    const provider = parse(read('deploy/grafana/provisioning/dashboards/nnq.yml')) as {
      providers: { options: { path: string } }[];
    };
    expect(grafMounts[provider.providers[0].options.path]).toBe('./deploy/grafana/dashboards');
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { url: string }[];
    };
    const url = new URL(ds.datasources[0].url);
    expect(Object.keys(services)).toContain(url.hostname);
    expect(Number(url.port)).toBe(containerPort(services.prometheus.ports![0]));
  });

  it('runs commands that exist in the built image: dist/apps/<app>/src/main.js, bin/nnq.js', () => {
    for (const name of NNQ_APPS) {
      const [app] = services[name].command!;
      expect(app).toBe(name);
      expect(existsSync(join(ROOT, 'dist', 'apps', app, 'src', 'main.js')), `run npm run build first`).toBe(true);
    }
    expect(existsSync(join(ROOT, 'dist', 'apps', 'cli', 'src', 'main.js'))).toBe(true);
    // the entrypoint maps those words onto the same files
    expect(dockerfile).toMatch(
      /coordinator\|worker\) app=\$1; shift; exec node (--[\w=-]+ )*\\"dist\/apps\/\$app\/src\/main\.js\\"/,
    );
    expect(dockerfile).toMatch(/exec node bin\/nnq\.js/);
    expect(existsSync(join(ROOT, 'bin', 'nnq.js'))).toBe(true);
    expect(services.redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });
});

describe('Dockerfile', () => {
  const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('copies files that exist and that .dockerignore lets through', () => {
    expect(copies.length).toBeGreaterThan(5);
    for (const src of copies) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      expect(ignored, src).not.toContain(src.replace(/\/$/, ''));
    }
  });

  it('builds in one stage and runs production dependencies as a non-root user in another', () => {
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim/m);
    expect(dockerfile).toMatch(/RUN npm ci --no-audit/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    // onnxruntime-node's CPU binaries come inside the npm package: no download at install time
    expect(read('.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(copies).toContain('.npmrc');
    expect(existsSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64'))).toBe(true);
  });

  it('sets only variables of EnvSchema (and NODE_ENV)', () => {
    const block = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1];
    const names = [...block.matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(1);
    for (const n of names) if (n !== 'NODE_ENV') expect(envNames, n).toContain(n);
  });

  it('installs the Fashion-MNIST files where examples/fashion-mnist.json reads them', () => {
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends dataset-fashion-mnist/);
    const example = JSON.parse(read('examples/fashion-mnist.json')) as { dataset: { source: { dir: string } } };
    expect(example.dataset.source.dir).toBe('/usr/share/datasets/fashion-mnist');
  });
});
