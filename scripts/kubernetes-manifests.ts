/**
 * The checks a schema cannot make on the rendered Kubernetes manifests of deploy/kubernetes/:
 * that the objects refer to one another correctly (selectors, ports, Secrets and ConfigMaps and
 * their keys), and that the relay's container gets a configuration the relay itself accepts,
 * with what the README's "Running two replicas" asks for. Used by scripts/check-kubernetes.ts
 * and the unit tests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { allSettings, loadConfig, type Config } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { schemaProblems } from './kubernetes-schema.js';
import {
  containersOf,
  objectId,
  parseYamlDocuments,
  podSpecsOf,
  type KubeObject,
} from './kustomize-lite.js';

/**
 * The kustomizations checked: the base, as `kubectl apply -k deploy/kubernetes/` applies it, and
 * the example overlay.
 */
export const KUSTOMIZATIONS = ['deploy/kubernetes', 'deploy/kubernetes/example'];
/** The example Secret, standing in for the one the base expects to find in its namespace. */
export const EXAMPLE_SECRETS = 'deploy/kubernetes/example/secret.example.yaml';

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** Whether a label selector (matchLabels and matchExpressions) selects `labels`. */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
  if (!isRecord(selector)) return false;
  const matchLabels = stringMap(selector.matchLabels);
  const expressions = records(selector.matchExpressions);
  if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return false;
  const labelsMatch = Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
  return (
    labelsMatch &&
    expressions.every((e) => {
      const key = typeof e.key === 'string' ? e.key : '';
      const values = Array.isArray(e.values) ? e.values : [];
      const value = labels[key];
      switch (e.operator) {
        case 'In':
          return value !== undefined && values.includes(value);
        case 'NotIn':
          return value === undefined || !values.includes(value);
        case 'Exists':
          return value !== undefined;
        case 'DoesNotExist':
          return value === undefined;
        default:
          return false;
      }
    })
  );
}

/** The Secret or ConfigMap's keys, from `data`, `stringData` and `binaryData`. */
function keysOf(object: KubeObject): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [key, value] of Object.entries(stringMap(object.data))) {
    keys.set(key, object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value);
  }
  for (const [key, value] of Object.entries(stringMap(object.stringData))) keys.set(key, value);
  for (const key of Object.keys(stringMap(object.binaryData))) keys.set(key, '');
  return keys;
}

/** A workload with its pod template's labels and spec. */
interface Workload {
  readonly object: KubeObject;
  readonly id: string;
  readonly namespace: string | undefined;
  readonly podLabels: Record<string, string>;
  readonly podSpec: Json;
  readonly replicas: number;
}

function workloadsOf(objects: readonly KubeObject[]): Workload[] {
  return objects.flatMap((object) => {
    const [podSpec] = podSpecsOf(object);
    const spec = isRecord(object.spec) ? object.spec : {};
    const template = isRecord(spec.template) ? spec.template : {};
    const metadata = isRecord(template.metadata) ? template.metadata : {};
    if (podSpec === undefined) return [];
    return [
      {
        object,
        id: objectId(object),
        namespace: object.metadata.namespace,
        podLabels: stringMap(metadata.labels),
        podSpec,
        replicas: typeof spec.replicas === 'number' ? spec.replicas : 1,
      },
    ];
  });
}

/** A container port named or numbered `port`, or undefined. */
function containerPort(container: Json, port: unknown): number | undefined {
  for (const p of records(container.ports)) {
    if (typeof p.containerPort !== 'number') continue;
    if (port === p.name || port === p.containerPort) return p.containerPort;
  }
  return undefined;
}

/** Where a ConfigMap or Secret of this name can be found: the rendering, else the examples. */
class Sources {
  constructor(
    private readonly objects: readonly KubeObject[],
    private readonly examples: readonly KubeObject[],
  ) {}

  find(kind: 'ConfigMap' | 'Secret', name: unknown, namespace: string | undefined) {
    const inRendering = this.objects.find(
      (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    return inRendering ?? this.examples.find((o) => o.kind === kind && o.metadata.name === name);
  }
}

/** Checks selectors, ports and references between the objects; returns the problems. */
export function referenceProblems(
  objects: readonly KubeObject[],
  examples: readonly KubeObject[] = [],
): string[] {
  const problems: string[] = [];
  const sources = new Sources(objects, examples);
  const workloads = workloadsOf(objects);

  for (const w of workloads) {
    const spec = isRecord(w.object.spec) ? w.object.spec : {};
    if (w.object.kind !== 'Pod' && !selects(spec.selector, w.podLabels)) {
      problems.push(`${w.id}: spec.selector does not select its own pod template's labels`);
    }
    const volumes = new Map(records(w.podSpec.volumes).map((v) => [v.name, v]));
    for (const [name, volume] of volumes) {
      const reference = isRecord(volume.secret)
        ? { kind: 'Secret' as const, name: volume.secret.secretName, spec: volume.secret }
        : isRecord(volume.configMap)
          ? { kind: 'ConfigMap' as const, name: volume.configMap.name, spec: volume.configMap }
          : undefined;
      if (reference === undefined || reference.spec.optional === true) continue;
      const source = sources.find(reference.kind, reference.name, w.namespace);
      const where = `${w.id}: volume ${String(name)}`;
      if (source === undefined) {
        problems.push(`${where}: ${reference.kind} ${String(reference.name)} is not defined`);
        continue;
      }
      const keys = keysOf(source);
      for (const item of records(reference.spec.items)) {
        if (typeof item.key !== 'string' || !keys.has(item.key)) {
          problems.push(`${where}: ${objectId(source)} has no key ${String(item.key)}`);
        }
      }
    }
    for (const container of containersOf(w.podSpec)) {
      const where = `${w.id}: container ${String(container.name)}`;
      for (const from of records(container.envFrom)) {
        for (const [field, kind] of [
          ['configMapRef', 'ConfigMap'],
          ['secretRef', 'Secret'],
        ] as const) {
          const ref = from[field];
          if (!isRecord(ref) || ref.optional === true) continue;
          if (sources.find(kind, ref.name, w.namespace) === undefined) {
            problems.push(`${where}: envFrom ${kind} ${String(ref.name)} is not defined`);
          }
        }
      }
      for (const variable of records(container.env)) {
        const valueFrom = isRecord(variable.valueFrom) ? variable.valueFrom : {};
        for (const [field, kind] of [
          ['configMapKeyRef', 'ConfigMap'],
          ['secretKeyRef', 'Secret'],
        ] as const) {
          const ref = valueFrom[field];
          if (!isRecord(ref) || ref.optional === true) continue;
          const source = sources.find(kind, ref.name, w.namespace);
          if (source === undefined || !keysOf(source).has(String(ref.key))) {
            problems.push(
              `${where}: env ${String(variable.name)}: ${kind} ${String(ref.name)} has no key ${String(ref.key)}`,
            );
          }
        }
      }
      for (const mount of records(container.volumeMounts)) {
        if (!volumes.has(mount.name)) {
          problems.push(`${where}: volumeMount ${String(mount.name)} names no volume`);
        }
      }
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const handler = isRecord(container[probe]) ? container[probe] : undefined;
        const action = handler?.httpGet ?? handler?.tcpSocket ?? handler?.grpc;
        if (!isRecord(action)) continue;
        if (containerPort(container, action.port) === undefined) {
          problems.push(`${where}: ${probe} port ${String(action.port)} is not a container port`);
        }
      }
    }
  }

  for (const object of objects) {
    const id = objectId(object);
    const spec = isRecord(object.spec) ? object.spec : {};
    const inNamespace = workloads.filter((w) => w.namespace === object.metadata.namespace);
    if (object.kind === 'PodDisruptionBudget') {
      const selected = inNamespace.filter((w) => selects(spec.selector, w.podLabels));
      if (selected.length === 0) problems.push(`${id}: spec.selector selects no workload's pods`);
      for (const w of selected) {
        if (typeof spec.minAvailable === 'number' && spec.minAvailable >= w.replicas) {
          problems.push(
            `${id}: minAvailable ${spec.minAvailable} with ${w.replicas} replicas of ${w.id}: no eviction (a node drain) could ever proceed`,
          );
        }
      }
    }
    if (object.kind === 'Service' && isRecord(spec.selector)) {
      const labels = stringMap(spec.selector);
      const selected = inNamespace.filter((w) =>
        Object.entries(labels).every(([k, v]) => w.podLabels[k] === v),
      );
      if (selected.length === 0) problems.push(`${id}: spec.selector selects no workload's pods`);
      for (const port of records(spec.ports)) {
        const target = port.targetPort ?? port.port;
        const served = selected.some((w) =>
          containersOf(w.podSpec).some((c) => containerPort(c, target) !== undefined),
        );
        if (!served) {
          problems.push(
            `${id}: port ${String(port.name)}: targetPort ${String(target)} is no container port of the selected pods`,
          );
        }
      }
    }
  }
  return problems;
}

/** The runtime image's ENV, from the last stage of the Dockerfile. */
export function imageEnvironment(dockerfile: string): Record<string, string> {
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  let env: Record<string, string> = {};
  for (const line of lines) {
    const [instruction = '', ...words] = line.trim().split(/\s+/);
    if (/^FROM$/i.test(instruction)) env = {};
    if (!/^ENV$/i.test(instruction)) continue;
    for (const word of words) {
      const at = word.indexOf('=');
      if (at <= 0)
        throw new Error(`Dockerfile: cannot read "ENV ${words.join(' ')}"; use KEY=value`);
      env[word.slice(0, at)] = word.slice(at + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/** Variables a pod may set for the relay's process that are not relay settings. */
const PROCESS_VARIABLES = new Set(['NODE_OPTIONS', 'NODE_ENV', 'TMPDIR', 'TZ', 'CONFIG_FILE']);

/** The relay's container in a pod spec: the one running the keycloak-scim-relay image. */
function relayContainer(podSpec: Json): Json | undefined {
  return containersOf(podSpec).find(
    (c) => typeof c.image === 'string' && /(^|\/)keycloak-scim-relay([:@]|$)/.test(c.image),
  );
}

/** `512Mi`, `1G`, `256M` in MiB. */
function mebibytes(quantity: unknown): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(quantity));
  if (match === null) return undefined;
  const factor: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    K: 1000 / 2 ** 20,
    M: 1e6 / 2 ** 20,
    G: 1e9 / 2 ** 20,
  };
  return Number(match[1]) * (match[2] === undefined ? 1 / 2 ** 20 : (factor[match[2]] ?? 1));
}

/**
 * What the relay's container is given to run with, checked by the relay's own configuration
 * loader: the image's ENV, then the ConfigMaps of envFrom, then env, with every file the
 * variables name under a Secret or ConfigMap volume written out from its (example) object.
 * Returns the problems, among them every issue the loader reports.
 */
export function relayConfigurationProblems(
  objects: readonly KubeObject[],
  examples: readonly KubeObject[],
  imageEnv: Record<string, string>,
): string[] {
  const problems: string[] = [];
  const sources = new Sources(objects, examples);
  const settingNames = new Map(allSettings.map(({ setting }) => [setting.env, setting]));
  const relays = workloadsOf(objects).filter((w) => relayContainer(w.podSpec) !== undefined);
  if (relays.length === 0) problems.push('no workload runs the keycloak-scim-relay image');

  for (const w of relays) {
    const container = relayContainer(w.podSpec) ?? {};
    const where = `${w.id}: container ${String(container.name)}`;
    const env: Record<string, string> = { ...imageEnv };
    const origin = new Map<string, string>(Object.keys(imageEnv).map((k) => [k, 'the image']));
    for (const from of records(container.envFrom)) {
      const ref = isRecord(from.configMapRef) ? from.configMapRef : undefined;
      const source = ref && sources.find('ConfigMap', ref.name, w.namespace);
      if (source === undefined) continue;
      for (const [key, value] of keysOf(source)) {
        env[key] = value;
        origin.set(key, objectId(source));
      }
    }
    for (const variable of records(container.env)) {
      if (typeof variable.name !== 'string') continue;
      const ref = isRecord(variable.valueFrom) ? variable.valueFrom : undefined;
      const secretRef = isRecord(ref?.secretKeyRef) ? ref.secretKeyRef : undefined;
      if (typeof variable.value === 'string') {
        env[variable.name] = variable.value;
        origin.set(variable.name, 'env');
      } else if (secretRef !== undefined) {
        const secret = sources.find('Secret', secretRef.name, w.namespace);
        const value = secret && keysOf(secret).get(String(secretRef.key));
        if (value !== undefined) env[variable.name] = value;
        origin.set(variable.name, 'secretKeyRef');
      }
    }

    for (const [name, from] of origin) {
      const setting = settingNames.get(name);
      const fileOf = name.endsWith('_FILE') ? settingNames.get(name.slice(0, -5)) : undefined;
      if (setting === undefined && fileOf?.secret !== true && !PROCESS_VARIABLES.has(name)) {
        if (from !== 'the image') problems.push(`${where}: ${name} (${from}) is no relay setting`);
      }
      if (setting?.secret === true && from !== 'secretKeyRef') {
        problems.push(
          `${where}: the secret ${name} is set in clear by ${from}; mount it and set ${name}_FILE`,
        );
      }
    }

    const podEnv = { ...env };
    // A pod's NODE_OPTIONS replaces the image's: it must keep what the image set.
    const podOptions = (env.NODE_OPTIONS ?? '').split(/\s+/);
    const dropped = (imageEnv.NODE_OPTIONS ?? '')
      .split(/\s+/)
      .filter((option) => option !== '' && !podOptions.includes(option));
    if (dropped.length > 0) {
      problems.push(`${where}: NODE_OPTIONS drops the image's ${dropped.join(' ')}`);
    }
    // Files under Secret and ConfigMap mounts, written out where the loader can read them.
    const volumes = new Map(records(w.podSpec.volumes).map((v) => [v.name, v]));
    const scratch = mkdtempSync(join(tmpdir(), 'kubernetes-relay-config-'));
    try {
      const mounts: { path: string; files: Map<string, string>; what: string }[] = [];
      for (const mount of records(container.volumeMounts)) {
        const volume = volumes.get(mount.name);
        if (volume === undefined || typeof mount.mountPath !== 'string') continue;
        const secret = isRecord(volume.secret) ? volume.secret : undefined;
        const configMap = isRecord(volume.configMap) ? volume.configMap : undefined;
        const source = secret
          ? sources.find('Secret', secret.secretName, w.namespace)
          : configMap && sources.find('ConfigMap', configMap.name, w.namespace);
        if (source === undefined) continue;
        const keys = keysOf(source);
        const items = records((secret ?? configMap)?.items);
        const files = new Map(
          items.length === 0
            ? keys
            : items.map((item) => [String(item.path), keys.get(String(item.key)) ?? '']),
        );
        mounts.push({ path: mount.mountPath, files, what: objectId(source) });
      }
      for (const [name, value] of Object.entries(env)) {
        const mount = mounts.find((m) => value.startsWith(`${m.path}/`));
        if (mount === undefined) {
          if (name.endsWith('_FILE') && settingNames.get(name.slice(0, -5))?.secret === true) {
            problems.push(`${where}: ${name}=${value} is under no Secret volume mount`);
          }
          continue;
        }
        const file = posix.relative(mount.path, value);
        const content = mount.files.get(file);
        if (content === undefined) {
          problems.push(`${where}: ${name}=${value}: ${mount.what} has no key ${file}`);
          continue;
        }
        const local = join(scratch, `${name}.file`);
        writeFileSync(local, content);
        env[name] = local;
      }

      let config: Config;
      try {
        config = loadConfig(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.issues.map((issue) => `${where}: the relay refuses: ${issue}`));
        continue;
      }
      problems.push(...replicaProblems(w, container, podEnv, config, where));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return problems;
}

/** What the README's "Running two replicas" and the image's user ask of the pod. */
function replicaProblems(
  w: Workload,
  container: Json,
  podEnv: Record<string, string>,
  config: Config,
  where: string,
): string[] {
  const problems: string[] = [];
  if (w.replicas > 1 && config.state.url === undefined) {
    problems.push(
      `${where}: ${w.replicas} replicas without STATE_URL would be ${w.replicas} relays writing at once; set STATE_URL_FILE`,
    );
  }
  const port = config.http.port;
  if (port === 0) problems.push(`${where}: HTTP_PORT=0 leaves the probes nothing to ask`);
  else if (containerPort(container, port) === undefined) {
    problems.push(`${where}: HTTP_PORT ${port} is not a container port`);
  }
  for (const [probe, path] of [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const httpGet = isRecord(container[probe]) ? container[probe].httpGet : undefined;
    if (!isRecord(httpGet)) {
      problems.push(`${where}: no ${probe} on ${path}`);
      continue;
    }
    if (httpGet.path !== path) {
      problems.push(`${where}: ${probe} asks ${String(httpGet.path)}, not ${path}`);
    }
    if (port !== 0 && containerPort(container, httpGet.port) !== port) {
      problems.push(`${where}: ${probe} asks port ${String(httpGet.port)}, not HTTP_PORT ${port}`);
    }
  }
  const grace = w.podSpec.terminationGracePeriodSeconds ?? 30;
  if (typeof grace !== 'number' || grace < 35) {
    problems.push(
      `${where}: terminationGracePeriodSeconds is ${JSON.stringify(grace)}; the README asks for 35 or more`,
    );
  }

  const podSecurity = isRecord(w.podSpec.securityContext) ? w.podSpec.securityContext : {};
  const security = isRecord(container.securityContext) ? container.securityContext : {};
  if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true) {
    problems.push(`${where}: runAsNonRoot is not set`);
  }
  if (security.readOnlyRootFilesystem === true) {
    const [path, what] =
      config.state.url === undefined
        ? [config.state.dir, 'STATE_DIR']
        : [podEnv.TMPDIR ?? '/tmp', "the PostgreSQL store's SQLite cache (TMPDIR)"];
    const writable = records(container.volumeMounts).some(
      (m) =>
        m.readOnly !== true &&
        typeof m.mountPath === 'string' &&
        (path === m.mountPath || path.startsWith(`${m.mountPath}/`)),
    );
    if (!writable) {
      problems.push(
        `${where}: the root file system is read-only and ${path}, for ${what}, is on no writable volume`,
      );
    }
  }

  const resources = isRecord(container.resources) ? container.resources : {};
  const limits = isRecord(resources.limits) ? resources.limits : {};
  const requests = isRecord(resources.requests) ? resources.requests : {};
  const limit = mebibytes(limits.memory);
  const request = mebibytes(requests.memory);
  if (limit === undefined) problems.push(`${where}: no memory limit`);
  if (request === undefined) problems.push(`${where}: no memory request`);
  if (limit !== undefined && request !== undefined && request > limit) {
    problems.push(`${where}: memory request ${String(requests.memory)} exceeds the limit`);
  }
  const heap = /--max-old-space-size=(\d+)/.exec(podEnv.NODE_OPTIONS ?? '')?.[1];
  if (heap !== undefined && limit !== undefined && Number(heap) >= limit) {
    problems.push(
      `${where}: --max-old-space-size=${heap} leaves nothing of the ${String(limits.memory)} limit to what is not heap`,
    );
  }
  return problems;
}

/** Reads the image's ENV from the repository's Dockerfile. */
export function readImageEnvironment(path = 'Dockerfile'): Record<string, string> {
  return imageEnvironment(readFileSync(path, 'utf8'));
}

/** Reads the example Secret(s). */
export function readExampleSecrets(path = EXAMPLE_SECRETS): KubeObject[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), path) as KubeObject[];
}

/** Every problem of one rendering: schema, references, and the relay's configuration. */
export function manifestProblems(
  objects: readonly KubeObject[],
  examples: readonly KubeObject[],
  imageEnv: Record<string, string>,
): string[] {
  return [
    ...schemaProblems(objects),
    ...referenceProblems(objects, examples),
    ...relayConfigurationProblems(objects, examples, imageEnv),
  ];
}
