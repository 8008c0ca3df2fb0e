/**
 * `npm run deploy:kubernetes`: renders deploy/kubernetes/ (the base) and its example overlay,
 * then fails on any problem:
 *   1. rendering: scripts/kustomize-lite.ts renders each kustomization; where kubectl is
 *      installed, `kubectl kustomize` renders it too and the two must agree object for object;
 *   2. schema: every object against the Kubernetes API's schema, strictly (unknown fields
 *      too), offline, through kubernetes-models (scripts/kubernetes-schema.ts);
 *   3. references: selectors, ports, probes, Secrets and ConfigMaps and their keys, the example
 *      Secret standing in for the one the base expects (scripts/kubernetes-manifests.ts);
 *   4. the relay's configuration: the container's environment and mounted files, loaded by the
 *      relay's own configuration loader, and what the README asks of two replicas.
 */
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import {
  objectId,
  parseYamlDocuments,
  renderKustomization,
  type KubeObject,
} from './kustomize-lite.js';
import { SCHEMA_KUBERNETES_VERSION } from './kubernetes-schema.js';
import {
  EXAMPLE_SECRETS,
  KUSTOMIZATIONS,
  manifestProblems,
  readExampleSecrets,
  readImageEnvironment,
} from './kubernetes-manifests.js';

/** What `kubectl kustomize` renders, or why it could not be asked. */
function kubectlKustomize(dir: string): KubeObject[] | string {
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (run.error !== undefined) return `kubectl is not installed (${run.error.message})`;
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseYamlDocuments(run.stdout, `kubectl kustomize ${dir}`) as KubeObject[];
}

function kubectlVersion(): string {
  const run = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return /Kustomize Version: (\S+)/.exec(run.stdout)?.[1] ?? 'unknown';
}

/** The objects on which the two renderings differ, by id. */
function renderingDifferences(ours: KubeObject[], theirs: KubeObject[]): string[] {
  const byId = (objects: KubeObject[]) => new Map(objects.map((o) => [objectId(o), o]));
  const a = byId(ours);
  const b = byId(theirs);
  const ids = [...new Set([...a.keys(), ...b.keys()])].sort();
  return ids.flatMap((id) => {
    const mine = a.get(id);
    const kubectl = b.get(id);
    if (mine === undefined) return [`${id}: only kubectl renders it`];
    if (kubectl === undefined) return [`${id}: only scripts/kustomize-lite.ts renders it`];
    return isDeepStrictEqual(mine, kubectl)
      ? []
      : [
          `${id}: renderings differ:\n  ours:    ${JSON.stringify(mine)}\n  kubectl: ${JSON.stringify(kubectl)}`,
        ];
  });
}

function main(): number {
  const examples = readExampleSecrets();
  const imageEnv = readImageEnvironment();
  let failed = 0;
  let kubectlNote = '';
  for (const dir of KUSTOMIZATIONS) {
    const rendered = renderKustomization(dir);
    const objects = rendered.map((r) => r.object);
    const problems: string[] = [];

    const kubectl = kubectlKustomize(dir);
    if (typeof kubectl === 'string')
      kubectlNote = `not compared with kubectl kustomize: ${kubectl}`;
    else {
      kubectlNote = `kubectl kustomize (kustomize ${kubectlVersion()}) renders the same objects`;
      problems.push(...renderingDifferences(objects, kubectl));
    }
    problems.push(...manifestProblems(objects, examples, imageEnv));

    const what = rendered.map((r) => `${objectId(r.object)} (${r.source})`);
    console.log(`${dir}: ${objects.length} objects\n  ${what.join('\n  ')}`);
    if (problems.length === 0) {
      console.log(
        `  ok: ${kubectlNote}; valid against the Kubernetes ${SCHEMA_KUBERNETES_VERSION} API schema (strict); references and the relay's configuration check out`,
      );
    } else {
      failed += problems.length;
      for (const problem of problems) console.error(`  FAIL ${problem}`);
    }
  }
  console.log(
    failed === 0
      ? `deploy/kubernetes: all ${KUSTOMIZATIONS.length} kustomizations pass (the base's Secret checked against ${EXAMPLE_SECRETS})`
      : `deploy/kubernetes: ${failed} problems`,
  );
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
