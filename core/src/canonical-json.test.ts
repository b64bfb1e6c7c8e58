import t from 'tap';
import { canonicalJson, contentHash } from './canonical-json.js';

t.test('RFC 8785 examples', async (t) => {
  // The number serialisation sample of RFC 8785 §3.2.2.3.
  t.equal(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001] }), '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}');
  // Member order is by UTF-16 code units (RFC 8785 §3.2.3 sample): the emoji's surrogates sort before U+FB33.
  t.equal(
    canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' }),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  t.equal(canonicalJson({ b: [true, false, null], a: { d: -0, c: 'x' } }), '{"a":{"c":"x","d":0},"b":[true,false,null]}');
  t.equal(canonicalJson('\u2028'), '"\u2028"');
});

t.test('content hash is lowercase hex SHA-256 of canonical JSON, independent of key order', async (t) => {
  const h = contentHash({ b: 1, a: 2 });
  t.match(h, /^[0-9a-f]{64}$/);
  t.equal(h, contentHash({ a: 2, b: 1 }));
  // sha256 of the UTF-8 text {"a":2,"b":1}
  t.equal(h, 'd3626ac30a87e6f7a6428233b3c68299976865fa5508e4267c5415c76af7a772');
  t.not(contentHash({ a: 1 }), contentHash({ a: '1' }));
});

t.test('non-JSON values are refused', async (t) => {
  t.throws(() => canonicalJson(Number.NaN));
  t.throws(() => canonicalJson(Infinity));
  t.throws(() => canonicalJson({ f: () => 1 }));
  t.throws(() => canonicalJson(BigInt(1)));
});
