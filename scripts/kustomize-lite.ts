/**
 * Renders a kustomization as `kubectl kustomize` does, for the subset deploy/kubernetes/ uses,
 * so that the manifests can be checked where no kustomize binary is installed (Debian's
 * kubernetes-client is kubectl 1.20, whose kustomize is too old for these files). Anything
 * outside the subset is refused by name, never skipped: a field this renderer does not know
 * could change the output. `scripts/check-kubernetes.ts` compares its output with
 * `kubectl kustomize` wherever kubectl is installed.
 *
 * The subset: `resources` (YAML files and kustomization directories), `namespace`, `images`
 * (newName, newTag, digest) and `configMapGenerator` (literals; behavior create, merge or
 * replace), whose ConfigMaps get kustomize's content-hash suffix, with the references to them
 * in pod templates renamed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as read from YAML: only what every object has is typed. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** A rendered object with the file it came from (or the generator that made it). */
export interface RenderedObject {
  readonly object: KubeObject;
  readonly source: string;
}

interface Item {
  object: KubeObject;
  source: string;
  /** Set on a generated ConfigMap: its name before the hash suffix. */
  generatedName?: string;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'configMapGenerator',
]);
const SUPPORTED_GENERATOR_FIELDS = new Set(['name', 'literals', 'behavior']);
const SUPPORTED_IMAGE_FIELDS = new Set(['name', 'newName', 'newTag', 'digest']);
/** Kinds without a namespace, which the `namespace` field leaves alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses YAML as Kubernetes does (YAML 1.1, as sigs.k8s.io/yaml): `yes` is a boolean there. */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  const values: unknown[] = [];
  for (const document of parseAllDocuments(text, { version: '1.1' })) {
    const problem = document.errors[0];
    if (problem !== undefined) throw new KustomizeError(`${source}: ${problem.message}`);
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

function asKubeObject(value: unknown, source: string): KubeObject {
  if (
    !isRecord(value) ||
    typeof value.apiVersion !== 'string' ||
    typeof value.kind !== 'string' ||
    !isRecord(value.metadata) ||
    typeof value.metadata.name !== 'string'
  ) {
    throw new KustomizeError(
      `${source}: not a Kubernetes object (apiVersion, kind, metadata.name)`,
    );
  }
  return value as KubeObject;
}

function kustomizationFile(dir: string): string {
  const found = KUSTOMIZATION_FILES.map((name) => join(dir, name)).filter((p) => existsSync(p));
  if (found.length !== 1) {
    throw new KustomizeError(
      `${dir}: expected exactly one of ${KUSTOMIZATION_FILES.join(', ')}, found ${found.length}`,
    );
  }
  return found[0] as string;
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new KustomizeError(`${where}: expected a list of strings`);
  }
  return value;
}

function recordList(value: unknown, where: string): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isRecord)) {
    throw new KustomizeError(`${where}: expected a list of mappings`);
  }
  return value;
}

function refuseUnknown(entry: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const key of Object.keys(entry)) {
    if (!known.has(key)) {
      throw new KustomizeError(`${where}: "${key}" is not supported by scripts/kustomize-lite.ts`);
    }
  }
}

/** `KEY=value` as kustomize reads a literal: the value may be quoted, the quotes dropped. */
function parseLiteral(literal: string, where: string): [string, string] {
  const at = literal.indexOf('=');
  if (at <= 0) throw new KustomizeError(`${where}: "${literal}" is not KEY=value`);
  let value = literal.slice(at + 1);
  if (value.length >= 2 && /^(["']).*\1$/s.test(value)) value = value.slice(1, -1);
  return [literal.slice(0, at), value];
}

function generateConfigMaps(
  generators: Record<string, unknown>[],
  items: Item[],
  where: string,
): void {
  for (const [i, generator] of generators.entries()) {
    const at = `${where}: configMapGenerator[${i}]`;
    refuseUnknown(generator, SUPPORTED_GENERATOR_FIELDS, at);
    const name = generator.name;
    if (typeof name !== 'string' || name === '') throw new KustomizeError(`${at}: needs a name`);
    const data = Object.fromEntries(
      stringList(generator.literals, `${at}.literals`).map((l) => parseLiteral(l, at)),
    );
    const behavior = generator.behavior ?? 'create';
    const existing = items.find((item) => item.generatedName === name);
    if (behavior === 'create') {
      if (existing !== undefined) {
        throw new KustomizeError(`${at}: ConfigMap ${name} exists; use behavior merge or replace`);
      }
      items.push({
        object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data },
        source: at,
        generatedName: name,
      });
    } else if (behavior === 'merge' || behavior === 'replace') {
      if (existing === undefined) {
        throw new KustomizeError(`${at}: no generated ConfigMap ${name} to ${behavior}`);
      }
      const before = isRecord(existing.object.data) ? existing.object.data : {};
      existing.object.data = behavior === 'merge' ? { ...before, ...data } : data;
      existing.source = `${existing.source}, ${behavior}d by ${at}`;
    } else {
      throw new KustomizeError(
        `${at}: behavior ${JSON.stringify(behavior)} is not create/merge/replace`,
      );
    }
  }
}

/** The pod spec of a workload (a CronJob's job template's too), where images are named. */
export function podSpecsOf(object: KubeObject): Record<string, unknown>[] {
  const spec = object.spec;
  if (!isRecord(spec)) return [];
  if (object.kind === 'Pod') return [spec];
  const jobSpec =
    object.kind === 'CronJob' && isRecord(spec.jobTemplate) ? spec.jobTemplate.spec : spec;
  const template = isRecord(jobSpec) ? jobSpec.template : undefined;
  return isRecord(template) && isRecord(template.spec) ? [template.spec] : [];
}

/** Every container of a pod spec, init containers included. */
export function containersOf(podSpec: Record<string, unknown>): Record<string, unknown>[] {
  return ['initContainers', 'containers', 'ephemeralContainers'].flatMap((field) => {
    const list = podSpec[field];
    return Array.isArray(list) ? list.filter(isRecord) : [];
  });
}

/** Splits `registry:5000/name:tag@sha256:...` into name, tag and digest. */
function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withTag = '', digest] = image.split('@', 2);
  const slash = withTag.lastIndexOf('/');
  const colon = withTag.lastIndexOf(':');
  const parts: { name: string; tag?: string; digest?: string } =
    colon > slash
      ? { name: withTag.slice(0, colon), tag: withTag.slice(colon + 1) }
      : { name: withTag };
  if (digest !== undefined) parts.digest = digest;
  return parts;
}

function setImages(images: Record<string, unknown>[], items: Item[], where: string): void {
  for (const [i, rule] of images.entries()) {
    const at = `${where}: images[${i}]`;
    refuseUnknown(rule, SUPPORTED_IMAGE_FIELDS, at);
    if (typeof rule.name !== 'string') throw new KustomizeError(`${at}: needs a name`);
    for (const item of items) {
      for (const container of podSpecsOf(item.object).flatMap(containersOf)) {
        if (typeof container.image !== 'string') continue;
        const image = splitImage(container.image);
        if (image.name !== rule.name) continue;
        const name = typeof rule.newName === 'string' ? rule.newName : image.name;
        if (typeof rule.digest === 'string') container.image = `${name}@${rule.digest}`;
        else if (typeof rule.newTag === 'string') container.image = `${name}:${rule.newTag}`;
        else {
          const tag = image.tag === undefined ? '' : `:${image.tag}`;
          const digest = image.digest === undefined ? '' : `@${image.digest}`;
          container.image = `${name}${tag}${digest}`;
        }
      }
    }
  }
}

function readResources(path: string, dir: string): Item[] {
  const source = relative(process.cwd(), path) || '.';
  if (!existsSync(path)) throw new KustomizeError(`${source}: no such file or directory`);
  if (statSync(path).isDirectory()) return build(path);
  // kustomize's default load restrictor: a file resource lies in or below its kustomization.
  if (relative(dir, path).startsWith('..')) {
    throw new KustomizeError(`${source}: a file outside ${relative(process.cwd(), dir) || '.'}`);
  }
  return parseYamlDocuments(readFileSync(path, 'utf8'), source).map((value, i) => ({
    object: asKubeObject(value, `${source}[${i}]`),
    source,
  }));
}

function build(dir: string): Item[] {
  const file = kustomizationFile(dir);
  const where = relative(process.cwd(), file);
  const [kustomization, ...extra] = parseYamlDocuments(readFileSync(file, 'utf8'), where);
  if (!isRecord(kustomization) || extra.length > 0) {
    throw new KustomizeError(`${where}: expected one mapping`);
  }
  refuseUnknown(kustomization, SUPPORTED_FIELDS, where);
  const items = stringList(kustomization.resources, `${where}: resources`).flatMap((entry) =>
    readResources(resolve(dir, entry), dir),
  );
  generateConfigMaps(recordList(kustomization.configMapGenerator, where), items, where);
  setImages(recordList(kustomization.images, where), items, where);
  const namespace = kustomization.namespace;
  if (namespace !== undefined) {
    if (typeof namespace !== 'string') throw new KustomizeError(`${where}: namespace: a string`);
    for (const item of items) {
      if (!CLUSTER_SCOPED.has(item.object.kind)) item.object.metadata.namespace = namespace;
    }
  }
  return items;
}

/**
 * Go's json.Marshal of a map: keys sorted at every level, and `<`, `>`, `&`, U+2028 and U+2029
 * escaped (they can only occur inside strings, so replacing them in the text is exact).
 */
function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    isRecord(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sorted(v[k])]),
        )
      : v;
  return JSON.stringify(sorted(value)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * kustomize's name suffix for a generated ConfigMap: the first 10 hex digits of the SHA-256 of
 * `{"data":…,"kind":"ConfigMap","name":""}` (kustomize 5.5 encodes the name as empty, as
 * `kubectl kustomize` shows), with 0, 1, 3, a and e swapped for g, h, k, m and t.
 */
export function configMapHash(data: Record<string, unknown>): string {
  const hex = createHash('sha256')
    .update(goJson({ data, kind: 'ConfigMap', name: '' }))
    .digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return hex.slice(0, 10).replace(/[013ae]/g, (c) => swap[c] ?? c);
}

/** Renames the references to generated ConfigMaps in every pod spec. */
function renameConfigMapReferences(items: Item[], renamed: Map<string, string>): void {
  const rename = (holder: unknown, field: string): void => {
    if (!isRecord(holder)) return;
    const name = holder[field];
    if (typeof name === 'string' && renamed.has(name)) holder[field] = renamed.get(name);
  };
  for (const podSpec of items.flatMap((item) => podSpecsOf(item.object))) {
    for (const volume of Array.isArray(podSpec.volumes) ? podSpec.volumes : []) {
      if (!isRecord(volume)) continue;
      rename(volume.configMap, 'name');
      const projected = isRecord(volume.projected) ? volume.projected.sources : undefined;
      for (const source of Array.isArray(projected) ? projected : []) {
        if (isRecord(source)) rename(source.configMap, 'name');
      }
    }
    for (const container of containersOf(podSpec)) {
      for (const from of Array.isArray(container.envFrom) ? container.envFrom : []) {
        if (isRecord(from)) rename(from.configMapRef, 'name');
      }
      for (const variable of Array.isArray(container.env) ? container.env : []) {
        if (isRecord(variable) && isRecord(variable.valueFrom)) {
          rename(variable.valueFrom.configMapKeyRef, 'name');
        }
      }
    }
  }
}

/** Renders the kustomization in `dir`: what `kubectl kustomize dir` prints, as objects. */
export function renderKustomization(dir: string): RenderedObject[] {
  const items = build(resolve(dir));
  const renamed = new Map<string, string>();
  for (const item of items) {
    if (item.generatedName === undefined) continue;
    const data = isRecord(item.object.data) ? item.object.data : {};
    const name = `${item.generatedName}-${configMapHash(data)}`;
    renamed.set(item.generatedName, name);
    item.object.metadata.name = name;
  }
  renameConfigMapReferences(items, renamed);
  const seen = new Set<string>();
  for (const { object, source } of items) {
    const id = objectId(object);
    if (seen.has(id)) throw new KustomizeError(`${source}: ${id} is defined twice`);
    seen.add(id);
  }
  return items.map(({ object, source }) => ({ object, source }));
}

/** `Kind/namespace/name`, as the checks name an object. */
export function objectId(object: KubeObject): string {
  const namespace = object.metadata.namespace;
  return `${object.kind}/${namespace === undefined ? '' : `${namespace}/`}${object.metadata.name}`;
}
