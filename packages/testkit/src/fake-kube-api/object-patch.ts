// PATCH bodies as the API server applies them: RFC 6902 JSON patch (add, remove, replace, test)
// and RFC 7386 JSON merge patch (also used for strategic merge patch, which the fake does not
// model: lists are replaced whole). Both return a new value and never touch their input.

/** A failed patch: the server answers 422 with this message. */
export class PatchError extends Error {
  override readonly name = 'PatchError';
}

type Json = unknown;

interface Operation {
  op: string;
  path: string;
  value?: Json;
}

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `/a/b~1c` -> ["a", "b/c"] (RFC 6901). */
function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`path "${pointer}" does not start with "/"`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`"${token}" is not an array index`);
  const index = Number(token);
  if (index > (allowEnd ? length : length - 1)) throw new PatchError(`array index ${index} is out of range`);
  return index;
}

function applyOne(document: Json, operation: Operation): Json {
  const tokens = parsePointer(operation.path);
  if (tokens.length === 0) {
    if (operation.op === 'test') {
      if (JSON.stringify(document) !== JSON.stringify(operation.value)) throw new PatchError('test of the whole document failed');
      return document;
    }
    if (operation.op === 'add' || operation.op === 'replace') return structuredClone(operation.value);
    throw new PatchError(`cannot ${operation.op} the whole document`);
  }
  let parent: Json = document;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(parent)) parent = parent[arrayIndex(token, parent.length, false)];
    else if (isRecord(parent) && token in parent) parent = parent[token];
    else throw new PatchError(`path "${operation.path}" does not exist`);
  }
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    const index = arrayIndex(last, parent.length, operation.op === 'add');
    switch (operation.op) {
      case 'add': parent.splice(index, 0, structuredClone(operation.value)); break;
      case 'remove': parent.splice(index, 1); break;
      case 'replace': parent[index] = structuredClone(operation.value); break;
      case 'test': if (JSON.stringify(parent[index]) !== JSON.stringify(operation.value)) throw new PatchError(`test of "${operation.path}" failed`); break;
      default: throw new PatchError(`operation "${operation.op}" is not supported by the fake API`);
    }
    return document;
  }
  if (!isRecord(parent)) throw new PatchError(`path "${operation.path}" does not name an object member`);
  const exists = last in parent;
  switch (operation.op) {
    case 'add': parent[last] = structuredClone(operation.value); break;
    case 'remove':
    case 'replace':
      if (!exists) throw new PatchError(`path "${operation.path}" does not exist`);
      if (operation.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(operation.value);
      break;
    case 'test':
      if (!exists || JSON.stringify(parent[last]) !== JSON.stringify(operation.value)) throw new PatchError(`test of "${operation.path}" failed`);
      break;
    default: throw new PatchError(`operation "${operation.op}" is not supported by the fake API`);
  }
  return document;
}

/** Applies RFC 6902 operations in order; all or nothing. */
export function applyJsonPatch(document: Json, patch: unknown): Json {
  if (!Array.isArray(patch)) throw new PatchError('a JSON patch must be an array of operations');
  let result = structuredClone(document);
  for (const operation of patch) {
    if (!isRecord(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw new PatchError('every JSON patch operation needs "op" and "path"');
    }
    result = applyOne(result, operation as unknown as Operation);
  }
  return result;
}

/** Applies an RFC 7386 merge patch: objects merge, null deletes, everything else replaces. */
export function applyMergePatch(document: Json, patch: Json): Json {
  if (!isRecord(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isRecord(document) ? structuredClone(document) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
