import { isPlainObject, type JsonObject, type JsonValue } from '@json-sync/core';

/**
 * RFC 7386 JSON Merge Patch: members of `patch` replace those of `target`, `null` removes a
 * member, objects merge recursively. Returns a new value; inputs are not modified.
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isPlainObject(patch)) return patch;
  const result: JsonObject = isPlainObject(target) ? { ...(target as JsonObject) } : {};
  for (const [key, value] of Object.entries(patch as JsonObject)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key] ?? null, value);
  }
  return result;
}
