import { UsageError } from "../errors.js";
import type { ModelSpec, WeightRecord } from "../spec.js";

const models = new Map<string, ModelSpec>();

/** Registers a model; architecture packages call this when imported. Re-registering the same name is an error. */
export function registerModel(spec: ModelSpec): ModelSpec {
  if (models.has(spec.name)) {
    if (models.get(spec.name) === spec) return spec;
    throw new Error(`model "${spec.name}" is already registered (by family "${models.get(spec.name)!.family}")`);
  }
  validateSpec(spec);
  models.set(spec.name, spec);
  return spec;
}

/** Looks a model up by name; an unknown name is a usage error that suggests the closest names. */
export function getModel(name: string): ModelSpec {
  const spec = models.get(name);
  if (spec) return spec;
  const known = [...models.keys()].sort();
  const close = known.filter((k) => k.startsWith(name) || name.startsWith(k.split(".")[0]!) || editDistance(k, name) <= 2);
  const hint = close.length ? ` Did you mean ${close.join(", ")}?` : known.length ? ` Known models: ${known.join(", ")}.` : " No models are registered: import an architecture package such as @ft/resnet.";
  throw new UsageError(`unknown model "${name}".${hint}`);
}

/** Registered models sorted by name, optionally filtered by a glob (`resnet*`, `*.keras`). */
export function listModels(pattern?: string): ModelSpec[] {
  const all = [...models.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (!pattern) return all;
  const re = globToRegExp(pattern);
  return all.filter((m) => re.test(m.name));
}

/** Finds a weight record by its id across all registered models. */
export function findWeightRecord(id: string): { model: ModelSpec; record: WeightRecord } | undefined {
  for (const model of models.values()) {
    const record = model.weights.find((w) => w.id === id);
    if (record) return { model, record };
  }
  return undefined;
}

/** Removes a model; for tests that register throwaway specs. */
export function unregisterModel(name: string): boolean {
  return models.delete(name);
}

function validateSpec(spec: ModelSpec): void {
  const where = `model "${spec.name}"`;
  if (!/^[a-z0-9_]+(\.[a-z0-9_]+)*$/.test(spec.name)) throw new Error(`${where}: names are lower-case words joined by "." (got "${spec.name}")`);
  if (spec.inputShape.length !== 3) throw new Error(`${where}: inputShape must be [h, w, c]`);
  const ids = new Set<string>();
  for (const w of spec.weights) {
    if (ids.has(w.id)) throw new Error(`${where}: duplicate weight record id "${w.id}"`);
    ids.add(w.id);
    for (const [other, record] of allRecords()) {
      if (record.id === w.id) throw new Error(`${where}: weight record id "${w.id}" is already used by model "${other}"`);
    }
  }
}

function* allRecords(): Generator<[string, WeightRecord]> {
  for (const m of models.values()) for (const w of m.weights) yield [m.name, w];
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
