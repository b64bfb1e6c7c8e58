import t, { type Test } from 'tap';
import { canonicalJson } from './canonical-json.js';
import { ProtocolError } from './errors.js';
import { assertDocumentContent, assertJsonValue } from './json-value.js';
import { DEFAULT_LIMITS } from './limits.js';

function throwsCode(t: Test, fn: () => unknown, code: string, what: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  t.ok(thrown instanceof ProtocolError, `${what}: throws a ProtocolError`);
  t.equal((thrown as ProtocolError | undefined)?.code, code, `${what}: code ${code}`);
}

/** `levels` containers nested inside each other, alternating objects and arrays when asked. */
function nested(levels: number, mix = false): unknown {
  let v: unknown = 'leaf';
  for (let i = levels; i >= 1; i--) v = mix && i % 2 === 0 ? [v] : { k: v };
  return v;
}

t.test('document content must be a JSON object', async (t) => {
  for (const [what, content] of [
    ['array', [{ a: 1 }]],
    ['empty array', []],
    ['string', '{"a":1}'],
    ['null', null],
    ['number', 1],
    ['boolean', true],
    ['undefined', undefined],
  ] as [string, unknown][]) {
    throwsCode(t, () => assertDocumentContent(content), 'invalid_message', what);
  }
  t.equal(assertDocumentContent({}), '{}');
  // The returned text is the content's JSON text; its size equals the canonical form's, which the limit is about.
  const content = { b: [1, { d: null, c: 'x\u00e9' }], a: true, n: -0, f: 1.5e-7 };
  const text = assertDocumentContent(content);
  t.same(JSON.parse(text), content);
  t.equal(Buffer.byteLength(text), Buffer.byteLength(canonicalJson(content)));
});

t.test('hostile keys are refused at any depth', async (t) => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    // JSON.parse makes "__proto__" an own data property, exactly as a decoded frame would.
    const cases = [`{"${key}":1}`, `{"a":{"${key}":{"x":1}}}`, `{"a":[1,{"b":[{"${key}":null}]}]}`, `{"${key}":{}}`];
    for (const text of cases) {
      throwsCode(t, () => assertDocumentContent(JSON.parse(text)), 'invalid_message', `content ${text}`);
      throwsCode(t, () => assertJsonValue(JSON.parse(text)), 'invalid_message', `value ${text}`);
      throwsCode(t, () => assertJsonValue([JSON.parse(text)]), 'invalid_message', `value [${text}]`);
    }
  }
  // The same words as values, or as parts of longer keys, are harmless.
  t.doesNotThrow(() => assertDocumentContent({ a: '__proto__', constructors: 1, __proto__x: 2, Prototype: 3 }));
});

t.test('numbers must be exact integers within ±(2^53 - 1), never rounded', async (t) => {
  t.doesNotThrow(() => assertJsonValue(2 ** 53 - 1));
  t.doesNotThrow(() => assertJsonValue(-(2 ** 53 - 1)));
  t.doesNotThrow(() => assertDocumentContent({ max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER, f: 0.1, e: 1.5e-300, z: 0 }));
  for (const [what, n] of [
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['2^53 + 2', 2 ** 53 + 2],
    ['1e300', 1e300],
    ['-1e300', -1e300],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ] as [string, number][]) {
    throwsCode(t, () => assertJsonValue(n), 'invalid_message', `bare ${what}`);
    throwsCode(t, () => assertDocumentContent({ a: { l: [0, n] } }), 'invalid_message', `nested ${what}`);
  }
  // 9007199254740993 parses to 2^53: the digits sent are already lost, so it must be refused.
  throwsCode(t, () => assertDocumentContent(JSON.parse('{"n":9007199254740993}')), 'invalid_message', 'a decoded 2^53 + 1');
});

t.test('nesting exactly max_depth passes, max_depth + 1 fails', async (t) => {
  const max = DEFAULT_LIMITS.max_depth;
  t.doesNotThrow(() => assertDocumentContent(nested(max)), `${max} objects`);
  throwsCode(t, () => assertDocumentContent(nested(max + 1)), 'invalid_message', `${max + 1} objects`);
  t.doesNotThrow(() => assertDocumentContent(nested(max, true)), `${max} mixed objects and arrays`);
  throwsCode(t, () => assertDocumentContent(nested(max + 1, true)), 'invalid_message', `${max + 1} mixed objects and arrays`);
  // Empty containers still count as a level.
  t.doesNotThrow(() => assertJsonValue([[[]]], 3));
  throwsCode(t, () => assertJsonValue([[[[]]]], 3), 'invalid_message', 'four empty arrays with max 3');
  // A custom limit is honoured, by both entry points.
  const limits = { max_depth: 3, max_document_bytes: DEFAULT_LIMITS.max_document_bytes };
  t.doesNotThrow(() => assertDocumentContent({ a: { b: { c: 1 } } }, limits));
  throwsCode(t, () => assertDocumentContent({ a: { b: { c: {} } } }, limits), 'invalid_message', 'four levels with max 3');
  t.doesNotThrow(() => assertJsonValue({ a: [1] }, 2));
  throwsCode(t, () => assertJsonValue({ a: [[1]] }, 2), 'invalid_message', 'three levels with max 2');
});

t.test('content larger than max_document_bytes is message_too_large', async (t) => {
  const limits = { max_depth: DEFAULT_LIMITS.max_depth, max_document_bytes: 100 };
  // {"s":"…"} is 8 bytes of framing.
  t.equal(Buffer.byteLength(canonicalJson({ s: 'x'.repeat(92) })), 100);
  t.doesNotThrow(() => assertDocumentContent({ s: 'x'.repeat(92) }, limits), 'exactly the limit');
  throwsCode(t, () => assertDocumentContent({ s: 'x'.repeat(93) }, limits), 'message_too_large', 'one byte over');
  // The limit is in UTF-8 bytes, not characters: 46 two-byte characters are 92 bytes.
  t.doesNotThrow(() => assertDocumentContent({ s: 'é'.repeat(46) }, limits));
  throwsCode(t, () => assertDocumentContent({ s: 'é'.repeat(47) }, limits), 'message_too_large', '47 × é');
  // The default limit, to the byte.
  const big = { s: 'x'.repeat(DEFAULT_LIMITS.max_document_bytes - 8) };
  t.doesNotThrow(() => assertDocumentContent(big), 'default limit, exactly');
  throwsCode(t, () => assertDocumentContent({ s: 'x'.repeat(DEFAULT_LIMITS.max_document_bytes - 7) }), 'message_too_large', 'default limit + 1');
});

t.test('strings with U+0000 or unpaired surrogates are refused, in values and keys', async (t) => {
  const bad: [string, string][] = [
    ['U+0000', 'a\u0000b'],
    ['only U+0000', '\u0000'],
    ['lone high surrogate at the end', 'abc\ud83d'],
    ['lone high surrogate before a letter', '\ud83dx'],
    ['lone low surrogate at the start', '\ude00abc'],
    ['lone low surrogate after a letter', 'x\ude00'],
    ['reversed pair', '\ude00\ud83d'],
    ['two high surrogates', '\ud83d\ud83d'],
  ];
  for (const [what, s] of bad) {
    throwsCode(t, () => assertJsonValue(s), 'invalid_message', `value: ${what}`);
    throwsCode(t, () => assertDocumentContent({ a: [{ b: s }] }), 'invalid_message', `nested value: ${what}`);
    throwsCode(t, () => assertDocumentContent({ [s]: 1 }), 'invalid_message', `key: ${what}`);
    throwsCode(t, () => assertDocumentContent({ a: { [s]: 1 } }), 'invalid_message', `nested key: ${what}`);
  }
  // Paired surrogates, other control characters and non-BMP text are fine.
  t.doesNotThrow(() => assertDocumentContent({ '😀': '😀 \ud83d\ude00 \u0001 \u001f \uffff 𝄞', 'é\u2028': '' }));
});

t.test('objects with a non-plain prototype are refused', async (t) => {
  class Point {
    x = 1;
  }
  const cases: [string, unknown][] = [
    ['class instance', new Point()],
    ['Date', new Date(0)],
    ['Map', new Map([['a', 1]])],
    ['Set', new Set([1])],
    ['RegExp', /x/],
    ['object with an object prototype', Object.create({ inherited: 1 })],
    ['boxed string', Object('s')],
    ['Buffer', Buffer.from('x')],
  ];
  for (const [what, v] of cases) {
    throwsCode(t, () => assertJsonValue(v), 'invalid_message', `bare ${what}`);
    throwsCode(t, () => assertDocumentContent({ a: [v] }), 'invalid_message', `nested ${what}`);
  }
  throwsCode(t, () => assertDocumentContent(new Point()), 'invalid_message', 'class instance as the content');
  // A null-prototype object is still a plain JSON object.
  const bare = Object.create(null) as Record<string, unknown>;
  bare.a = 1;
  t.equal(assertDocumentContent({ o: bare }), '{"o":{"a":1}}');
});

t.test('values JSON cannot hold are refused', async (t) => {
  for (const [what, v] of [
    ['undefined', undefined],
    ['function', () => 1],
    ['bigint', BigInt(1)],
    ['symbol', Symbol('s')],
  ] as [string, unknown][]) {
    throwsCode(t, () => assertJsonValue(v), 'invalid_message', what);
    throwsCode(t, () => assertDocumentContent({ a: v }), 'invalid_message', `member ${what}`);
  }
  throwsCode(t, () => assertJsonValue([1, undefined]), 'invalid_message', 'undefined in an array');
});
