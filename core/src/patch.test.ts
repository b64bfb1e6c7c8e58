import t, { type Test } from 'tap';
import { ProtocolError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { JsonObject, JsonValue } from './json-value.js';
import { anyOverlap, applyPatch, parsePatch, diff, pathsOverlap, reversePatch, touchedPaths, type PatchOp } from './patch.js';

// Ops arrive from the wire as unknown JSON; tests build hostile ones that the PatchOp type would refuse.
const ops = (v: unknown): PatchOp[] => v as PatchOp[];

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

/** Asserts that fn throws a ProtocolError with exactly this code. */
function throwsCode(t: Test, fn: () => unknown, code: string, what?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  t.ok(thrown instanceof ProtocolError, `${what ?? 'call'} throws a ProtocolError`);
  t.equal((thrown as ProtocolError | undefined)?.code, code, `${what ?? 'call'} fails with ${code}`);
}

// ---- applyPatch -------------------------------------------------------------------------------

t.test('applyPatch never mutates its input document or its ops', async (t) => {
  const doc: JsonObject = { a: 1, nested: { list: [1, 2, 3], obj: { k: 'v' } }, gone: true };
  const before = JSON.stringify(doc);
  const patch: PatchOp[] = [
    { op: 'replace', path: '/a', value: 2 },
    { op: 'add', path: '/nested/list/-', value: 4 },
    { op: 'remove', path: '/gone' },
    { op: 'move', from: '/nested/obj', path: '/moved' },
    { op: 'add', path: '/added', value: { deep: [1] } },
  ];
  const patchBefore = JSON.stringify(patch);
  // Frozen inputs make any in-place write throw instead of passing silently.
  const out = applyPatch(deepFreeze(doc), deepFreeze(patch));
  t.equal(JSON.stringify(doc), before);
  t.equal(JSON.stringify(patch), patchBefore);
  t.same(out, { a: 2, nested: { list: [1, 2, 3, 4] }, moved: { k: 'v' }, added: { deep: [1] } });
  t.not(out, doc);
  t.not(out.nested, doc.nested);

  // The result must not alias an op's value: editing the result later would silently rewrite the patch.
  const valuePatch: PatchOp[] = [{ op: 'add', path: '/v', value: { x: 1 } }];
  const r = applyPatch({}, valuePatch);
  (r.v as JsonObject).x = 99;
  t.same(valuePatch[0], { op: 'add', path: '/v', value: { x: 1 } });
});

t.test('a patch that fails midway leaves the input untouched', async (t) => {
  const doc: JsonObject = { a: 1, b: [1, 2] };
  throwsCode(t, () => applyPatch(doc, [{ op: 'replace', path: '/a', value: 5 }, { op: 'remove', path: '/b/1' }, { op: 'remove', path: '/missing' }]), 'invalid_patch');
  t.same(doc, { a: 1, b: [1, 2] });
});

t.test('add', async (t) => {
  t.same(applyPatch({ a: 1 }, [{ op: 'add', path: '/b', value: 'x' }]), { a: 1, b: 'x' });
  // add on an existing member replaces it (RFC 6902 §4.1).
  t.same(applyPatch({ a: 1 }, [{ op: 'add', path: '/a', value: [1] }]), { a: [1] });
  t.same(applyPatch({ l: [1, 3] }, [{ op: 'add', path: '/l/1', value: 2 }]), { l: [1, 2, 3] });
  t.same(applyPatch({ l: [1, 2] }, [{ op: 'add', path: '/l/2', value: 3 }]), { l: [1, 2, 3] }, 'index == length appends');
  t.same(applyPatch({ l: [1, 2] }, [{ op: 'add', path: '/l/-', value: 3 }]), { l: [1, 2, 3] }, '"-" appends');
  t.same(applyPatch({ l: [] }, [{ op: 'add', path: '/l/-', value: { o: null } }, { op: 'add', path: '/l/-', value: false }]), { l: [{ o: null }, false] });
  t.same(applyPatch({}, [{ op: 'add', path: '/a~1b', value: 1 }, { op: 'add', path: '/c~0d', value: 2 }, { op: 'add', path: '/', value: 3 }]), { 'a/b': 1, 'c~d': 2, '': 3 });
  // Adding at an index beyond the end is not an append.
  throwsCode(t, () => applyPatch({ l: [1] }, [{ op: 'add', path: '/l/3', value: 2 }]), 'invalid_patch');
  throwsCode(t, () => applyPatch({}, [{ op: 'add', path: '/no/such', value: 1 }]), 'invalid_patch', 'add under a missing parent');
});

t.test('remove', async (t) => {
  t.same(applyPatch({ a: 1, b: 2 }, [{ op: 'remove', path: '/a' }]), { b: 2 });
  t.same(applyPatch({ l: ['x', 'y', 'z'] }, [{ op: 'remove', path: '/l/0' }]), { l: ['y', 'z'] });
  t.same(applyPatch({ o: { p: { q: 1, r: 2 } } }, [{ op: 'remove', path: '/o/p/q' }]), { o: { p: { r: 2 } } });
  throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'remove', path: '/b' }]), 'invalid_patch', 'remove of a missing member');
  throwsCode(t, () => applyPatch({ l: [1] }, [{ op: 'remove', path: '/l/1' }]), 'invalid_patch', 'remove past the array end');
});

t.test('replace', async (t) => {
  t.same(applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: { b: [true] } }]), { a: { b: [true] } });
  t.same(applyPatch({ l: [1, 2] }, [{ op: 'replace', path: '/l/1', value: 'two' }]), { l: [1, 'two'] });
  // Replacing the root with another object is allowed: the content stays an object.
  t.same(applyPatch({ a: 1 }, [{ op: 'replace', path: '', value: { z: 1 } }]), { z: 1 });
  throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 1 }]), 'invalid_patch', 'replace of a missing member');
});

t.test('move', async (t) => {
  t.same(applyPatch({ a: { x: 1 }, b: 2 }, [{ op: 'move', from: '/a', path: '/c' }]), { b: 2, c: { x: 1 } });
  t.same(applyPatch({ l: [1, 2, 3] }, [{ op: 'move', from: '/l/0', path: '/l/-' }]), { l: [2, 3, 1] });
  t.same(applyPatch({ l: [1, 2], o: {} }, [{ op: 'move', from: '/l/1', path: '/o/two' }]), { l: [1], o: { two: 2 } });
  throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'move', from: '/nope', path: '/b' }]), 'invalid_patch', 'move from a missing path');
});

t.test('copy', async (t) => {
  const out = applyPatch({ a: { x: [1] } }, [{ op: 'copy', from: '/a', path: '/b' }]);
  t.same(out, { a: { x: [1] }, b: { x: [1] } });
  t.not(out.a, out.b, 'a copy is a separate value, not an alias of its source');
  t.same(applyPatch({ l: [1, 2] }, [{ op: 'copy', from: '/l/0', path: '/l/-' }]), { l: [1, 2, 1] });
  throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'copy', from: '/nope', path: '/b' }]), 'invalid_patch', 'copy from a missing path');
});

t.test('test', async (t) => {
  const doc: JsonObject = { a: { b: [1, { c: 'x' }] }, n: 1 };
  t.same(applyPatch(doc, [{ op: 'test', path: '/a/b/1', value: { c: 'x' } }, { op: 'replace', path: '/n', value: 2 }]), { ...doc, n: 2 });
  t.same(applyPatch(doc, [{ op: 'test', path: '', value: { n: 1, a: { b: [1, { c: 'x' }] } } }]), doc, 'test of the root ignores key order');
  throwsCode(t, () => applyPatch(doc, [{ op: 'test', path: '/n', value: 2 }]), 'invalid_patch', 'failing test');
  throwsCode(t, () => applyPatch(doc, [{ op: 'test', path: '/n', value: '1' }]), 'invalid_patch', 'test compares types, not loose equality');
  throwsCode(t, () => applyPatch(doc, [{ op: 'test', path: '/missing', value: null }]), 'invalid_patch', 'test of a missing path');
});

t.test('malformed pointers are invalid_patch', async (t) => {
  const doc: JsonObject = { a: 1, 'a~': 2 };
  for (const path of ['/a~2', '/a~', '/~x/b', 'a', 'a/b', '#/a']) {
    throwsCode(t, () => applyPatch(doc, ops([{ op: 'replace', path, value: 0 }])), 'invalid_patch', `path ${JSON.stringify(path)}`);
    throwsCode(t, () => applyPatch(doc, ops([{ op: 'copy', from: path, path: '/z' }])), 'invalid_patch', `from ${JSON.stringify(path)}`);
  }
});

t.test('hostile keys are refused anywhere in path or from, and nothing is polluted', async (t) => {
  const doc = { a: { b: {} }, c: [{}] } as JsonObject;
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    for (const path of [`/${key}`, `/${key}/polluted`, `/a/${key}`, `/a/${key}/polluted`, `/c/0/${key}/polluted`, `/a/b/${key}`]) {
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'add', path, value: 1 }])), 'invalid_patch', `add ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'replace', path, value: 1 }])), 'invalid_patch', `replace ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'remove', path }])), 'invalid_patch', `remove ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'test', path, value: 1 }])), 'invalid_patch', `test ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'move', from: path, path: '/x' }])), 'invalid_patch', `move from ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'copy', from: path, path: '/x' }])), 'invalid_patch', `copy from ${path}`);
      throwsCode(t, () => applyPatch(doc, ops([{ op: 'copy', from: '/a', path }])), 'invalid_patch', `copy to ${path}`);
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.equal((Object.prototype as unknown as Record<string, unknown>).polluted, undefined);
});

t.test('the root can never become something other than an object', async (t) => {
  for (const value of [[1, 2], 'text', null, 42, true, []] as JsonValue[]) {
    throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'replace', path: '', value }]), 'invalid_patch', `replace root with ${JSON.stringify(value)}`);
    throwsCode(t, () => applyPatch({ a: 1 }, [{ op: 'add', path: '', value }]), 'invalid_patch', `add root ${JSON.stringify(value)}`);
  }
  throwsCode(t, () => applyPatch({ a: [1] }, [{ op: 'move', from: '/a', path: '' }]), 'invalid_patch', 'move an array onto the root');
  throwsCode(t, () => applyPatch({ a: 1 }, ops([{ op: 'remove', path: '' }])), 'invalid_patch', 'remove the root');
});

t.test('a result that breaks a content rule keeps that rule\'s code', async (t) => {
  const limits = { ...DEFAULT_LIMITS, max_document_bytes: 20 };
  throwsCode(t, () => applyPatch({}, [{ op: 'add', path: '/s', value: 'x'.repeat(20) }], limits), 'message_too_large');
});

// ---- parsePatch ------------------------------------------------------------------------------

t.test('parsePatch accepts every well-formed op kind', async (t) => {
  t.doesNotThrow(() =>
    parsePatch([
      { op: 'add', path: '/a', value: 1 },
      { op: 'add', path: '/l/-', value: null },
      { op: 'remove', path: '/a' },
      { op: 'replace', path: '', value: {} },
      { op: 'move', from: '/a', path: '/b' },
      { op: 'copy', from: '/a', path: '/b' },
      { op: 'test', path: '/a', value: false },
    ]),
  );
  t.doesNotThrow(() => parsePatch([]));
  t.doesNotThrow(() => parsePatch(Array.from({ length: DEFAULT_LIMITS.max_patch_ops }, () => ({ op: 'test', path: '/a', value: 1 }))), 'exactly max_patch_ops');
});

t.test('parsePatch refuses malformed shapes with invalid_patch', async (t) => {
  const bad: [string, unknown][] = [
    ['not an array: object', { op: 'add', path: '/a', value: 1 }],
    ['not an array: string', '[]'],
    ['not an array: null', null],
    ['op is not an object', [1]],
    ['op is an array', [['add', '/a', 1]]],
    ['op is null', [null]],
    ['unknown op', [{ op: 'merge', path: '/a', value: 1 }]],
    ['op name case matters', [{ op: 'ADD', path: '/a', value: 1 }]],
    ['missing op', [{ path: '/a', value: 1 }]],
    ['missing path', [{ op: 'remove' }]],
    ['path not a string', [{ op: 'remove', path: 1 }]],
    ['add without value', [{ op: 'add', path: '/a' }]],
    ['replace without value', [{ op: 'replace', path: '/a' }]],
    ['test without value', [{ op: 'test', path: '/a' }]],
    ['move without from', [{ op: 'move', path: '/a' }]],
    ['copy without from', [{ op: 'copy', path: '/a' }]],
    ['from not a string', [{ op: 'move', from: null, path: '/a' }]],
    ['too many ops', Array.from({ length: DEFAULT_LIMITS.max_patch_ops + 1 }, () => ({ op: 'test', path: '/a', value: 1 }))],
    ['hostile key in a value', [{ op: 'add', path: '/a', value: JSON.parse('{"x":{"__proto__":{"polluted":1}}}') }]],
    ['constructor key in a value', [{ op: 'replace', path: '/a', value: [{ constructor: 1 }] }]],
    ['prototype key in a test value', [{ op: 'test', path: '/a', value: { prototype: 1 } }]],
    ['number 2^53 in a value', [{ op: 'add', path: '/a', value: 2 ** 53 }]],
    ['number -(2^53) deep in a value', [{ op: 'add', path: '/a', value: { l: [1, -(2 ** 53)] } }]],
    ['number 1e300 in a value', [{ op: 'replace', path: '/a', value: 1e300 }]],
    ['NaN in a value', [{ op: 'add', path: '/a', value: Number.NaN }]],
    ['non-JSON value', [{ op: 'add', path: '/a', value: new Date(0) }]],
  ];
  for (const [what, patch] of bad) throwsCode(t, () => parsePatch(patch), 'invalid_patch', what);
  // A valid later op does not excuse a bad earlier one, nor the reverse.
  throwsCode(t, () => parsePatch([{ op: 'add', path: '/a', value: 1 }, { op: 'nope', path: '/a' }]), 'invalid_patch', 'bad op after a good one');
});

t.test('parsePatch rebuilds each operation from its known members only', async (t) => {
  const received = JSON.parse(
    `[{"op":"add","path":"/n","value":4,"junk":"${'x'.repeat(900_000)}","big":${2 ** 60},"deep":${deepArray(10_000)},` +
      '"nul":"\\u0000","lone":"\\ud800","inf":1e400,"__proto__":{"polluted":true},"constructor":{"prototype":1}},' +
      '{"op":"remove","path":"/n","value":"ignored","from":"/ignored"},' +
      '{"op":"move","from":"/a","path":"/b","value":1},' +
      '{"op":"replace","path":"/c","value":{"ok":true},"from":"/x"}]',
  ) as unknown[];
  // Members no operation knows, including ones that would break every content rule, never survive.
  const clean = parsePatch(received);
  t.same(clean, [
    { op: 'add', path: '/n', value: 4 },
    { op: 'remove', path: '/n' },
    { op: 'move', from: '/a', path: '/b' },
    { op: 'replace', path: '/c', value: { ok: true } },
  ]);
  t.same(clean.map((op) => Object.keys(op)), [['op', 'path', 'value'], ['op', 'path'], ['op', 'from', 'path'], ['op', 'path', 'value']], 'no other own keys');
  t.equal(Object.getPrototypeOf(clean[0]), Object.prototype, 'a plain object, whatever __proto__ member the sender wrote');
  t.not(clean[0], received[0], 'a new object, not the received one');
});

t.test('parsePatch refuses each hostile form as a value with invalid_patch', async (t) => {
  const hostile: [string, string][] = [
    ['__proto__ key', '{"__proto__":{"polluted":true}}'],
    ['constructor key', '{"constructor":{"prototype":1}}'],
    ['2^60', String(2 ** 60)],
    ['1e400', '1e400'],
    ['U+0000', '"a\\u0000b"'],
    ['lone surrogate', '"\\ud800"'],
    ['10,000-deep value', deepArray(10_000)],
  ];
  for (const [what, value] of hostile) {
    throwsCode(t, () => parsePatch(JSON.parse(`[{"op":"add","path":"/n","value":${value}}]`)), 'invalid_patch', what);
    throwsCode(t, () => parsePatch(JSON.parse(`[{"op":${value},"path":"/n"}]`)), 'invalid_patch', `${what} as the op`);
    throwsCode(t, () => parsePatch(JSON.parse(`[{"op":"move","path":${value},"from":"/a"}]`)), 'invalid_patch', `${what} as the path`);
  }
});

t.test('parsePatch honours a smaller max_patch_ops', async (t) => {
  const limits = { max_patch_ops: 2, max_depth: 64 };
  const op = { op: 'remove', path: '/a' };
  t.doesNotThrow(() => parsePatch([op, op], limits));
  throwsCode(t, () => parsePatch([op, op, op], limits), 'invalid_patch');
  throwsCode(t, () => applyPatch({ a: 1 }, ops([op, op, op]), { ...DEFAULT_LIMITS, max_patch_ops: 2 }), 'invalid_patch', 'applyPatch checks the limit too');
});

// ---- diff / reversePatch property test --------------------------------------------------------

/** mulberry32: tiny, deterministic, good enough to shuffle test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Keys that need pointer escapes, look like array indexes, are empty, or are non-ASCII.
const KEYS = ['a', 'b', 'c', 'title', 'x/y', 'm~n', '~1', '', '0', '12', 'é', '😀', 'sp ace'];

function gen(rand: () => number, depth: number): JsonValue {
  const r = rand();
  if (depth <= 0 || r < 0.4) {
    const p = rand();
    if (p < 0.25) return Math.floor(rand() * 2000) - 1000;
    if (p < 0.35) return Math.round(rand() * 1e6) / 1000;
    if (p < 0.6) return KEYS[Math.floor(rand() * KEYS.length)]! + String(Math.floor(rand() * 10));
    if (p < 0.75) return rand() < 0.5;
    return null;
  }
  if (r < 0.7) return genObject(rand, depth - 1);
  return Array.from({ length: Math.floor(rand() * 6) }, () => gen(rand, depth - 1));
}

function genObject(rand: () => number, depth: number, minKeys = 0): JsonObject {
  const out: JsonObject = {};
  const n = minKeys + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) out[KEYS[Math.floor(rand() * KEYS.length)]!] = gen(rand, depth);
  return out;
}

/** A random edit of `v`: mostly small changes deep inside, sometimes whole replacements. */
function mutate(rand: () => number, v: JsonValue, depth: number): JsonValue {
  const r = rand();
  if (r < 0.1 || v === null || typeof v !== 'object') return gen(rand, depth);
  if (Array.isArray(v)) {
    const arr = v.map((x) => (rand() < 0.3 ? mutate(rand, x, depth - 1) : x));
    const edits = Math.floor(rand() * 3);
    for (let i = 0; i < edits; i++) {
      const e = rand();
      const at = Math.floor(rand() * (arr.length + 1));
      if (e < 0.4) arr.splice(at, 0, gen(rand, depth - 1));
      else if (e < 0.8 && arr.length > 0) arr.splice(Math.min(at, arr.length - 1), 1);
      else if (arr.length > 1) arr.reverse();
    }
    return arr;
  }
  return mutateObject(rand, v, depth);
}

function mutateObject(rand: () => number, v: JsonObject, depth: number): JsonObject {
  const obj: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    const e = rand();
    if (e < 0.15) continue;
    obj[k] = e < 0.6 ? mutate(rand, x, depth - 1) : x;
  }
  if (rand() < 0.4) obj[KEYS[Math.floor(rand() * KEYS.length)]!] = gen(rand, depth - 1);
  return obj;
}

t.test('diff and reversePatch round-trip 600 seeded random pairs', async (t) => {
  const rand = prng(0x5eed2024);
  let failures = 0;
  const PAIRS = 600;
  for (let i = 0; i < PAIRS; i++) {
    const a = genObject(rand, 4, 2);
    // Two out of three pairs are related (a realistic edit); the rest are unrelated documents.
    const b = rand() < 0.67 ? mutateObject(rand, a, 4) : genObject(rand, 4, 1);
    const aText = JSON.stringify(a);
    const bText = JSON.stringify(b);
    let forwardOk = false;
    let reverseOk = false;
    try {
      forwardOk = JSON.stringify(sortKeys(applyPatch(a, diff(a, b)))) === JSON.stringify(sortKeys(b));
      reverseOk = JSON.stringify(sortKeys(applyPatch(b, reversePatch(a, b)))) === JSON.stringify(sortKeys(a));
    } catch (err) {
      t.fail(`pair ${i} threw ${(err as Error).message}`, { a, b });
    }
    if (!forwardOk || !reverseOk) {
      failures++;
      if (failures <= 3) t.fail(`pair ${i}: forward ${forwardOk}, reverse ${reverseOk}`, { a, b, forward: diff(a, b) });
    }
    // Neither diffing nor applying may edit the inputs.
    if (JSON.stringify(a) !== aText || JSON.stringify(b) !== bText) t.fail(`pair ${i}: inputs were mutated`);
  }
  t.equal(failures, 0, `${PAIRS} pairs round-trip`);
});

function sortKeys(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: JsonObject = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
  return out;
}

t.test('diff of a 1000-item array changing one item stays small', async (t) => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ id: `item-${i}`, n: i, tags: ['t'] }));
  const a: JsonObject = { title: 'big', items };
  const b: JsonObject = { title: 'big', items: items.map((x, i) => (i === 617 ? { ...x, n: -1 } : x)) };
  const d = diff(a, b);
  t.ok(d.length <= 3, `changed field: ${d.length} ops`);
  t.same(d, [{ op: 'replace', path: '/items/617/n', value: -1 }]);
  t.same(applyPatch(a, d), b);

  const c: JsonObject = { title: 'big', items: items.map((x, i) => (i === 3 ? { id: 'other', n: 0, tags: [] } : x)) };
  const d2 = diff(a, c);
  t.ok(d2.length <= 3, `replaced item: ${d2.length} ops`);
  t.same(applyPatch(a, d2), c);

  const prims: JsonObject = { l: Array.from({ length: 1000 }, (_, i) => i) };
  const prims2: JsonObject = { l: (prims.l as number[]).map((x) => (x === 999 ? 'last' : x)) };
  const d3 = diff(prims, prims2);
  t.ok(d3.length <= 3, `primitive item: ${d3.length} ops`);
  t.same(applyPatch(prims, d3), prims2);
});

// ---- touchedPaths / overlap -------------------------------------------------------------------

t.test('touchedPaths', async (t) => {
  t.same(touchedPaths([{ op: 'replace', path: '/a/b', value: 1 }]), [['a', 'b']]);
  t.same(touchedPaths([{ op: 'replace', path: '/list/3/name', value: 1 }]), [['list']], 'cut at the first array index');
  t.same(touchedPaths([{ op: 'remove', path: '/o/list/0' }]), [['o', 'list']]);
  t.same(touchedPaths([{ op: 'add', path: '/list/-', value: 1 }]), [['list']], 'cut at "-"');
  t.same(touchedPaths([{ op: 'add', path: '/a/2/b/5', value: 1 }]), [['a']], 'cut at the outermost array');
  t.same(touchedPaths([{ op: 'move', from: '/x/y', path: '/z' }]), [['z'], ['x', 'y']], 'move touches from');
  t.same(touchedPaths([{ op: 'copy', from: '/l/4', path: '/m/n' }]), [['m', 'n'], ['l']], 'copy touches from, cut too');
  t.same(touchedPaths([{ op: 'test', path: '/t', value: 1 }]), [['t']]);
  t.same(touchedPaths([{ op: 'replace', path: '', value: {} }]), [[]], 'the root is the empty path');
  t.same(touchedPaths([{ op: 'add', path: '/a~1b/c~0d', value: 1 }]), [['a/b', 'c~d']], 'tokens are unescaped');
  t.same(
    touchedPaths([
      { op: 'add', path: '/a', value: 1 },
      { op: 'remove', path: '/b/0' },
    ]),
    [['a'], ['b']],
  );
  throwsCode(t, () => touchedPaths(ops([{ op: 'add', path: '/__proto__/x', value: 1 }])), 'invalid_patch', 'hostile key');
});

t.test('pathsOverlap and anyOverlap', async (t) => {
  t.equal(pathsOverlap(['a', 'b'], ['a', 'b']), true, 'self');
  t.equal(pathsOverlap(['a'], ['a', 'b', 'c']), true, 'parent');
  t.equal(pathsOverlap(['a', 'b', 'c'], ['a']), true, 'child');
  t.equal(pathsOverlap([], ['a', 'b']), true, 'the root overlaps everything');
  t.equal(pathsOverlap(['a', 'b'], ['a', 'c']), false, 'siblings');
  t.equal(pathsOverlap(['a'], ['b']), false, 'top-level siblings');
  t.equal(pathsOverlap(['a', 'b', 'x'], ['a', 'c', 'x']), false, 'same leaf under different parents');
  t.equal(pathsOverlap(['ab'], ['a']), false, 'a key prefix is not a path prefix');

  t.equal(anyOverlap([['a'], ['b', 'c']], [['x'], ['b']]), true);
  t.equal(anyOverlap([['a', 'x'], ['b', 'c']], [['a', 'y'], ['b', 'd']]), false);
  t.equal(anyOverlap([], [['a']]), false, 'an empty set touches nothing');
  t.equal(anyOverlap([['a']], []), false);
  // An edit at different indexes of one array conflicts, because both cut to the array.
  t.equal(anyOverlap(touchedPaths([{ op: 'replace', path: '/l/0', value: 1 }]), touchedPaths([{ op: 'remove', path: '/l/9' }])), true);
  t.equal(anyOverlap(touchedPaths([{ op: 'move', from: '/a', path: '/b' }]), touchedPaths([{ op: 'replace', path: '/a/x', value: 1 }])), true, 'move source counts');
  t.equal(anyOverlap(touchedPaths([{ op: 'replace', path: '/a/x', value: 1 }]), touchedPaths([{ op: 'replace', path: '/a/y', value: 1 }])), false);
});

/** JSON text of a value nested `depth` arrays deep (too deep to build and stringify recursively). */
function deepArray(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}
