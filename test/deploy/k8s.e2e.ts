import { EnvSchema } from '@nnq/config';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * Every manifest of deploy/k8s validated offline against the Kubernetes API schemas (and KEDA's
 * CRD schema) of the kubernetes-models packages, then checked against each other and against
 * the apps' configuration: names that refer to each other, ports, variables, probes.
 */
const ROOT = resolve(__dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'k8s');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
// kubernetes-models is ESM-only: under this tsconfig's CommonJS resolution its base class's types
// (validate()) are not seen, so the models are typed by hand here
type Validating = { validate(): void };
const validate = (Model: new (data: never) => unknown, body: unknown) =>
  (new Model(body as never) as Validating).validate();
const MODELS: Record<string, new (data: never) => unknown> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const manifests: (Manifest & { file: string })[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return { ...(doc.toJS() as Manifest), file };
  }),
);
const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);

interface Container {
  name: string;
  image: string;
  args: string[];
  envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string | number } };
  livenessProbe: { httpGet: { path: string; port: string | number } };
  resources: { requests: { cpu: string; memory: string } };
}
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: { containers: Container[]; terminationGracePeriodSeconds: number };
  };
}
const deployment = (name: string) => find('Deployment', name) as unknown as Manifest & { spec: DeploymentSpec };
const configData = () => (find('ConfigMap', 'nnq-config') as unknown as { data: Record<string, string> }).data;
const secretData = () =>
  (find('Secret', 'nnq-secrets') as unknown as { stringData: Record<string, string> }).stringData;

describe('deploy/k8s', () => {
  it('holds the coordinator, the workers, their Service, ConfigMap, Secret and a KEDA ScaledObject', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/nnq-config',
        'Deployment/nnq-coordinator',
        'Deployment/nnq-worker',
        'Namespace/nnq',
        'PersistentVolumeClaim/nnq-coordinator-data',
        'ScaledObject/nnq-worker',
        'Secret/nnq-secrets',
        'Service/nnq-coordinator',
      ].sort(),
    );
    for (const m of manifests) if (m.kind !== 'Namespace') expect(m.metadata.namespace, m.file).toBe('nnq');
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.kind}/${m.metadata.name}`, m] as const))(
    'validates %s against its API schema',
    (_, m) => {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model, `no schema for ${m.apiVersion} ${m.kind}`).toBeDefined();
      const { file: _file, ...body } = m;
      expect(() => validate(Model, body)).not.toThrow();
    },
  );

  it('rejects a broken manifest (the validation has teeth)', () => {
    const bad = structuredClone(deployment('nnq-worker')) as unknown as Record<string, unknown>;
    delete bad.file;
    (bad.spec as { replicas: unknown }).replicas = 'two';
    expect(() => validate(Deployment, bad)).toThrow(/replicas/);
    expect(() => validate(ScaledObject, { ...find('ScaledObject', 'nnq-worker'), spec: {} })).toThrow(/scaleTargetRef/);
  });

  it('configures the apps only with variables EnvSchema knows, and valid values', () => {
    const env = { ...configData(), ...secretData() };
    const names = new Set(Object.keys(EnvSchema.shape));
    for (const k of Object.keys(env)) expect(names, k).toContain(k);
    expect(EnvSchema.safeParse(env).error?.issues ?? []).toEqual([]);
    // a pod address needs the token (the coordinator refuses to listen publicly without one)
    expect(env.NNQ_HOST).toBe('0.0.0.0');
    expect(env.NNQ_API_TOKEN.length).toBeGreaterThanOrEqual(16);
  });

  it('gives both apps the ConfigMap and the Secret, one image, and the right app by argument', () => {
    const c = deployment('nnq-coordinator').spec.template.spec.containers[0];
    const w = deployment('nnq-worker').spec.template.spec.containers[0];
    expect(c.image).toBe(w.image);
    expect([c.args, w.args]).toEqual([['coordinator'], ['worker']]);
    for (const x of [c, w]) {
      expect(x.envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name).sort()).toEqual([
        'nnq-config',
        'nnq-secrets',
      ]);
      expect(x.resources.requests.cpu).toBeDefined();
      expect(x.resources.requests.memory).toBeDefined();
    }
  });

  it('listens, probes, scrapes and serves on the ports of the configuration', () => {
    const data = configData();
    for (const [name, port] of [
      ['nnq-coordinator', Number(data.NNQ_PORT)],
      ['nnq-worker', Number(data.NNQ_WORKER_PORT)],
    ] as const) {
      const d = deployment(name).spec;
      const container = d.template.spec.containers[0];
      expect(container.ports.map((p) => p.containerPort)).toEqual([port]);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe.httpGet.path).toBe('/health');
        expect(probe.httpGet.port).toBe(container.ports[0].name);
      }
      const a = d.template.metadata.annotations;
      expect([a['prometheus.io/scrape'], Number(a['prometheus.io/port']), a['prometheus.io/path']]).toEqual([
        'true',
        port,
        '/metrics',
      ]);
      // the selector picks the template, and the component label is what prometheus-kubernetes.yml keeps
      expect(d.template.metadata.labels).toMatchObject(d.selector.matchLabels);
      expect(d.template.metadata.labels['app.kubernetes.io/component']).toMatch(/^(coordinator|worker)$/);
    }
    const svc = find('Service', 'nnq-coordinator') as unknown as {
      spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    };
    expect(deployment('nnq-coordinator').spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(svc.spec.ports[0].port).toBe(Number(data.NNQ_PORT));
    expect(svc.spec.ports[0].targetPort).toBe('http');
    expect(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus-kubernetes.yml'), 'utf8')).toMatch(
      /__meta_kubernetes_pod_annotation_prometheus_io_scrape/,
    );
  });

  it('runs one coordinator, and gives a worker longer to drain than its BullMQ lock', () => {
    expect(deployment('nnq-coordinator').spec.replicas).toBe(1);
    expect((deployment('nnq-coordinator').spec as unknown as { strategy: { type: string } }).strategy.type).toBe(
      'Recreate',
    );
    const grace = deployment('nnq-worker').spec.template.spec.terminationGracePeriodSeconds;
    expect(grace * 1000).toBeGreaterThan(2 * Number(configData().NNQ_LOCK_DURATION_MS));
  });

  it('scales the worker Deployment on the queue depth the coordinator exports', () => {
    const so = find('ScaledObject', 'nnq-worker') as unknown as {
      spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: { query: string } }[] };
    };
    expect(deployment(so.spec.scaleTargetRef.name)).toBeDefined();
    const query = so.spec.triggers[0].metadata.query;
    expect(query).toMatch(/nnq_queue_jobs\{/);
    const metrics = readFileSync(join(ROOT, 'apps', 'coordinator', 'src', 'metrics', 'queue.metrics.ts'), 'utf8');
    expect(metrics).toMatch(/name: 'nnq_queue_jobs'/);
    for (const state of /state=~"([^"]+)"/.exec(query)![1].split('|')) expect(metrics).toContain(`'${state}'`);
  });
});
