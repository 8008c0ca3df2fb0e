import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, IPodSpec, ISecret } from 'kubernetes-models/v1';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KUSTOMIZATIONS,
  manifestProblems,
  readExampleSecrets,
  readImageEnvironment,
} from '../../scripts/kubernetes-manifests.js';
import {
  configMapHash,
  renderKustomization,
  type KubeObject,
} from '../../scripts/kustomize-lite.js';

const SLOW = 60_000;

const imageEnv = readImageEnvironment();
const examples = readExampleSecrets();

/** The example overlay's objects, deep-copied so that a test may break them. */
function example(): KubeObject[] {
  return renderKustomization('deploy/kubernetes/example').map((r) => structuredClone(r.object));
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what}`);
  return value;
}

function find(objects: KubeObject[], kind: string): unknown {
  return must(
    objects.find((o) => o.kind === kind),
    kind,
  );
}

const deployment = (objects: KubeObject[]) => find(objects, 'Deployment') as IDeployment;
const pdb = (objects: KubeObject[]) => find(objects, 'PodDisruptionBudget') as IPodDisruptionBudget;
const configMapData = (objects: KubeObject[]) =>
  must((find(objects, 'ConfigMap') as IConfigMap).data, 'ConfigMap data');
const podSpec = (objects: KubeObject[]): IPodSpec =>
  must(deployment(objects).spec?.template.spec, 'pod spec');
const relay = (objects: KubeObject[]): IContainer =>
  must(podSpec(objects).containers[0], 'container');

function problemsOf(objects: KubeObject[], secrets = examples): string[] {
  return manifestProblems(objects, secrets, imageEnv);
}

// The first check builds the TypeScript program behind the strict schema check: seconds.
describe('deploy/kubernetes', { timeout: SLOW }, () => {
  it.each(KUSTOMIZATIONS)('%s renders and passes every check', (dir) => {
    const objects = renderKustomization(dir).map((r) => r.object);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']),
    );
    expect(problemsOf(objects)).toEqual([]);
  });

  it('runs two replicas on PostgreSQL state, secrets as files', () => {
    const objects = example();
    expect(deployment(objects).spec?.replicas).toBe(2);
    const env = must(relay(objects).env, 'env');
    expect(env.map((v) => v.name)).toEqual(
      expect.arrayContaining(['KEYCLOAK_CLIENT_SECRET_FILE', 'SCIM_TOKEN_FILE', 'STATE_URL_FILE']),
    );
    expect(pdb(objects).spec?.minAvailable).toBe(1);
  });
});

describe('the checks catch', { timeout: SLOW }, () => {
  it('a field the Kubernetes schema does not have, and a value out of its enum', () => {
    const objects = example();
    const container = relay(objects) as unknown as Record<string, unknown>;
    container.readinesProbe = container.readinessProbe;
    container.imagePullPolicy = 'Sometimes';
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('spec.template.spec.containers[0].readinesProbe: unknown field'),
        expect.stringMatching(/containers\[0\]\.imagePullPolicy: must be equal to one of/),
      ]),
    );
  });

  it('selectors that miss the pods', () => {
    const objects = example();
    const labels = must(deployment(objects).spec?.template.metadata?.labels, 'pod labels');
    labels['app.kubernetes.io/component'] = 'other';
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("spec.selector does not select its own pod template's labels"),
        expect.stringMatching(/^PodDisruptionBudget\/.*selects no workload's pods/),
        expect.stringMatching(/^Service\/.*selects no workload's pods/),
      ]),
    );
  });

  it('a probe on a port the container does not declare', () => {
    const objects = example();
    must(relay(objects).livenessProbe?.httpGet, 'liveness probe').port = 'http';
    must(relay(objects).readinessProbe?.httpGet, 'readiness probe').port = 8080;
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('livenessProbe port http is not a container port'),
        expect.stringContaining('readinessProbe port 8080 is not a container port'),
      ]),
    );
  });

  it('a secret file the Secret has no key for', () => {
    const objects = example();
    const secret = find(objects, 'Secret') as ISecret;
    delete must(secret.stringData, 'stringData')['state-url'];
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          'STATE_URL_FILE=/run/secrets/keycloak-scim-relay/state-url: Secret/keycloak-scim-relay/keycloak-scim-relay has no key state-url',
        ),
      ]),
    );
  });

  it('two replicas without STATE_URL', () => {
    const objects = example();
    const container = relay(objects);
    container.env = must(container.env, 'env').filter((v) => v.name !== 'STATE_URL_FILE');
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('2 replicas without STATE_URL would be 2 relays writing at once'),
      ]),
    );
  });

  it('a secret in clear in the ConfigMap, and settings the relay refuses or does not know', () => {
    const objects = example();
    const data = configMapData(objects);
    data.SCIM_TOKEN = 'in-clear';
    data.SOURCE = 'kafka';
    data.SCIM_TIMEOUT = '30000';
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('the secret SCIM_TOKEN is set in clear by ConfigMap/'),
        expect.stringContaining('the relay refuses: SCIM_TOKEN and SCIM_TOKEN_FILE are both set'),
        expect.stringContaining('the relay refuses: SOURCE:'),
        expect.stringContaining('SCIM_TIMEOUT (ConfigMap/'),
      ]),
    );
  });

  it('a read-only root without a writable TMPDIR, a short grace period, a PDB that blocks drains', () => {
    const objects = example();
    const container = relay(objects);
    container.volumeMounts = must(container.volumeMounts, 'mounts').filter((m) => m.name !== 'tmp');
    podSpec(objects).terminationGracePeriodSeconds = 30;
    must(pdb(objects).spec, 'PDB spec').minAvailable = 2;
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("/tmp, for the PostgreSQL store's SQLite cache (TMPDIR)"),
        expect.stringContaining('terminationGracePeriodSeconds is 30'),
        expect.stringContaining('minAvailable 2 with 2 replicas'),
      ]),
    );
  });

  it("a NODE_OPTIONS that drops the image's, or a heap limit above the memory limit", () => {
    const objects = example();
    const nodeOptions = must(
      relay(objects).env?.find((v) => v.name === 'NODE_OPTIONS'),
      'NODE_OPTIONS',
    );
    nodeOptions.value = '--max-old-space-size=600';
    expect(problemsOf(objects)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("NODE_OPTIONS drops the image's --enable-source-maps"),
        expect.stringContaining('--max-old-space-size=600 leaves nothing of the 512Mi limit'),
      ]),
    );
  });
});

describe('scripts/kustomize-lite.ts', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function kustomization(files: Record<string, string>): string {
    dir = mkdtempSync(join(tmpdir(), 'kustomize-lite-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it("names a generated ConfigMap with kustomize's hash (as kubectl kustomize 5.5.0 does)", () => {
    // `kubectl kustomize` of `configMapGenerator: [{name: x, literals: [A=1]}]` prints x-89g4tffbfk.
    expect(configMapHash({ A: '1' })).toBe('89g4tffbfk');
    const root = kustomization({
      'kustomization.yaml': 'configMapGenerator:\n  - name: x\n    literals: [A=1]\n',
    });
    expect(renderKustomization(root).map((r) => r.object.metadata.name)).toEqual(['x-89g4tffbfk']);
  });

  it('sets images and the namespace, and renames references to generated ConfigMaps', () => {
    const root = kustomization({
      'kustomization.yaml': [
        'namespace: ns',
        'resources: [pod.yaml]',
        'images:',
        '  - {name: app, newName: registry.example.com/app, newTag: "2.0"}',
        'configMapGenerator:',
        '  - {name: settings, literals: [A=1]}',
      ].join('\n'),
      'pod.yaml': [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: p}',
        'spec:',
        '  containers:',
        '    - name: c',
        '      image: app:1.0',
        '      envFrom: [{configMapRef: {name: settings}}]',
      ].join('\n'),
    });
    const [pod] = renderKustomization(root).map((r) => r.object);
    expect(pod?.metadata.namespace).toBe('ns');
    expect(pod?.spec).toEqual({
      containers: [
        {
          name: 'c',
          image: 'registry.example.com/app:2.0',
          envFrom: [{ configMapRef: { name: 'settings-89g4tffbfk' } }],
        },
      ],
    });
  });

  it('refuses a field it does not render, rather than skipping it', () => {
    const root = kustomization({ 'kustomization.yaml': 'namePrefix: x-\n' });
    expect(() => renderKustomization(root)).toThrow(
      '"namePrefix" is not supported by scripts/kustomize-lite.ts',
    );
  });
});
