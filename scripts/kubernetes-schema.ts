/**
 * Validates Kubernetes objects against the Kubernetes API's own schema, offline, with the npm
 * package kubernetes-models (a devDependency): its validators are compiled by ajv from the
 * OpenAPI document of Kubernetes 1.33 (types, formats, enums, required fields), one per
 * apiVersion and kind.
 *
 * Those validators accept fields the schema does not define, as the OpenAPI document does; the
 * API server refuses them (kubectl's field validation is strict), and a misspelt field such as
 * `readinesProbe` would otherwise pass unnoticed. So every object is also walked against the
 * package's TypeScript declarations, generated from the same document, and any field that its
 * type does not declare is reported: the strict mode of kubeconform.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { objectId, type KubeObject } from './kustomize-lite.js';

/** The Kubernetes version whose API kubernetes-models (the pinned major) describes. */
export const SCHEMA_KUBERNETES_VERSION = '1.33';

const require = createRequire(import.meta.url);

interface ModelInstance {
  validate(): void;
}
type ModelClass = new (data: unknown) => ModelInstance;

/** An ajv error as the compiled validators report it (message added by ajv-i18n). */
interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The kubernetes-models module of an apiVersion: `v1` (core) or `group/version`. */
function modelModule(apiVersion: string): string {
  return `kubernetes-models/${apiVersion}`;
}

function modelClass(object: KubeObject): ModelClass | string {
  let exports: unknown;
  try {
    exports = require(modelModule(object.apiVersion));
  } catch {
    return `apiVersion ${object.apiVersion} is not a Kubernetes ${SCHEMA_KUBERNETES_VERSION} API group/version`;
  }
  const model = isRecord(exports) ? exports[object.kind] : undefined;
  if (typeof model !== 'function') {
    return `kind ${object.kind} is not in ${object.apiVersion} (Kubernetes ${SCHEMA_KUBERNETES_VERSION})`;
  }
  return model as ModelClass;
}

/** A JSON pointer (`/spec/containers/0/name`) as the checks write paths (`spec.containers[0].name`). */
function dottedPath(pointer: string): string {
  if (pointer === '') return '(the object)';
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

/** What the API schema's validator says of an object. */
function schemaErrors(object: KubeObject): string[] {
  const model = modelClass(object);
  if (typeof model === 'string') return [model];
  try {
    new model(structuredClone(object)).validate();
    return [];
  } catch (error) {
    const errors = isRecord(error) && Array.isArray(error.errors) ? error.errors : undefined;
    if (errors === undefined) return [error instanceof Error ? error.message : String(error)];
    return (errors as AjvError[]).map((e) => {
      const allowed = isRecord(e.params) ? e.params.allowedValues : undefined;
      const values = Array.isArray(allowed) ? ` (${allowed.map(String).join(', ')})` : '';
      const message = e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`;
      return `${dottedPath(e.instancePath)}: ${message}${values}`;
    });
  }
}

/**
 * The declared TypeScript type of each apiVersion/kind, from kubernetes-models' declarations,
 * through a small in-memory program that imports them.
 */
class DeclaredTypes {
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  constructor(objects: readonly KubeObject[]) {
    const keys = [...new Set(objects.map((o) => `${o.apiVersion}|${o.kind}`))];
    const fileName = fileURLToPath(
      new URL('./kubernetes-declared-types.virtual.ts', import.meta.url),
    );
    const text = keys
      .map((key, i) => {
        const [apiVersion = '', kind = ''] = key.split('|');
        return `import type { I${kind} as T${i} } from '${modelModule(apiVersion)}';\nexport type K${i} = T${i};\n`;
      })
      .join('');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, ...rest) =>
      name === fileName ? source : getSourceFile(name, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === fileName || fileExists(name);
    const program = ts.createProgram([fileName], options, host);
    this.checker = program.getTypeChecker();
    source.statements.filter(ts.isTypeAliasDeclaration).forEach((alias, i) => {
      const key = keys[i];
      const type = this.checker.getTypeAtLocation(alias.name);
      // An unresolved import is `any`: then there is nothing to be strict against.
      if (key !== undefined && (type.flags & ts.TypeFlags.Any) === 0) this.types.set(key, type);
    });
  }

  /** Fields of `object` that its declared type does not have, as paths. */
  unknownFields(object: KubeObject): string[] {
    const type = this.types.get(`${object.apiVersion}|${object.kind}`);
    if (type === undefined) return [];
    const found: string[] = [];
    this.walk(object, type, '', found);
    return found;
  }

  private walk(value: unknown, declared: ts.Type, path: string, found: string[]): void {
    const type = this.checker.getNonNullableType(declared);
    if ((type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0) return;
    if (Array.isArray(value)) {
      const element = this.checker.isArrayType(type)
        ? this.checker.getTypeArguments(type as ts.TypeReference)[0]
        : undefined;
      if (element !== undefined) {
        value.forEach((item, i) => {
          this.walk(item, element, `${path}[${i}]`, found);
        });
      }
      return;
    }
    if (!isRecord(value)) return;
    // `string | number` and the like hold no fields; a union of object types is ambiguous and
    // left to the schema's validator.
    const objectTypes = type.isUnion()
      ? type.types.filter((t) => (t.flags & ts.TypeFlags.Object) !== 0)
      : [type];
    const [objectType] = objectTypes;
    if (objectTypes.length !== 1 || objectType === undefined) return;
    const index = this.checker.getIndexTypeOfType(objectType, ts.IndexKind.String);
    // A free-form object (`{}`, `object`): anything goes.
    if (index === undefined && this.checker.getPropertiesOfType(objectType).length === 0) return;
    for (const [key, child] of Object.entries(value)) {
      const property = this.checker.getPropertyOfType(objectType, key);
      if (property !== undefined) {
        this.walk(child, this.checker.getTypeOfSymbol(property), `${path}.${key}`, found);
      } else if (index !== undefined) {
        this.walk(child, index, `${path}[${JSON.stringify(key)}]`, found);
      } else {
        found.push(`${path}.${key}`);
      }
    }
  }
}

/** One program per set of kinds: building it takes seconds, and the tests ask many times. */
const declaredTypesCache = new Map<string, DeclaredTypes>();

function declaredTypesFor(objects: readonly KubeObject[]): DeclaredTypes {
  const key = [...new Set(objects.map((o) => `${o.apiVersion}|${o.kind}`))].sort().join(',');
  let declared = declaredTypesCache.get(key);
  if (declared === undefined) {
    declared = new DeclaredTypes(objects);
    declaredTypesCache.set(key, declared);
  }
  return declared;
}

/**
 * Every schema problem of `objects`, each as `Kind/namespace/name: path: problem`; empty when
 * all of them are valid Kubernetes objects.
 */
export function schemaProblems(objects: readonly KubeObject[]): string[] {
  const declared = declaredTypesFor(objects);
  return objects.flatMap((object) => {
    const id = objectId(object);
    return [
      ...schemaErrors(object).map((problem) => `${id}: ${problem}`),
      ...declared
        .unknownFields(object)
        .map(
          (path) =>
            `${id}: ${path.slice(1)}: unknown field (the ${object.apiVersion} ${object.kind} schema has none of that name)`,
        ),
    ];
  });
}
