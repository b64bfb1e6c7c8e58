import t from 'tap';
import { parseRegex, regexTest } from '@json-sync/core';
import { mulberry32, TEST_DATABASE_URL } from '@json-sync/test-support';
import { PostgresDatabase } from '../db/postgres.js';
import { createLogger } from '../logger.js';
import { pgRegex } from './pg-regex.js';

/**
 * `$regex` on the server: every pattern, as pgRegex writes it for PostgreSQL, matches exactly the
 * texts the reference's Pike VM (core/src/query/regex.ts) matches — flags i, m, s, classes and
 * their negations, anchors at newlines, non-ASCII letters (not folded by i), characters beyond
 * U+FFFF — over handwritten and random patterns and texts.
 */

const PATTERNS = [
  'abc', '^a', 'c$', '^$', '.', '^.$', 'a.c', '[a-c]+', '[^a-c]', '[]a]', '[^]a]', '\\d+', '\\D', '\\w\\W', '\\s', '\\S+$',
  'a|b|', '(ab)*c', '(?:ab){2}', 'a{2,}', 'a{0,3}b', 'x?y+', 'é', 'ÉMILE', '😀.', '.😀', '[😀-😂]', '\\.', '\\n', '^b', 'a$',
  '[A-Z]', '[a-z]{2}', 'ü', 'Z', '\\t', '\\-', '(a|aa)*$', 'a??b', '[+*?]',
];
const TEXTS = ['', 'abc', 'ABC', 'aBc', 'a\nb', 'b\na', 'a\r\nb', 'x\ny\n', 'Émile', 'émile', 'ÉMILE', '😀a', 'a😀', 'a😁', '日本語', 'aaaa', 'aab', 'xyyy', 'z', 'Z', '1 2', 'a.b', 'tab\there', '-', 'ab]c', '+'];
const FLAGS = ['', 'i', 'm', 's', 'ims'];

t.test('PostgreSQL matches what the reference matches', async (t) => {
  const db = new PostgresDatabase(TEST_DATABASE_URL, createLogger('silent'));
  t.teardown(() => db.close());
  const rnd = mulberry32(7);
  const atoms = ['a', 'b', '.', '^', '$', '\\n', '[ab]', '[^a]', 'é', 'A', '\\w', '\\s'];
  const random = Array.from({ length: 150 }, () => {
    let p = '';
    for (let i = 0, n = 1 + Math.floor(rnd() * 5); i < n; i++) p += atoms[Math.floor(rnd() * atoms.length)]! + (rnd() < 0.3 ? ['*', '+', '?', '{1,2}'][Math.floor(rnd() * 4)]! : '');
    return rnd() < 0.2 ? `(${p})|b` : p;
  }).filter((p) => !/[\^$][*+?{]/.test(p));
  const texts = [...TEXTS, ...Array.from({ length: 30 }, () => Array.from({ length: Math.floor(rnd() * 6) }, () => ['a', 'b', 'A', 'é', '\n', ' ', 'x'][Math.floor(rnd() * 7)]).join(''))];
  let checked = 0;
  let failures = 0;
  for (const flags of FLAGS) {
    for (const source of [...PATTERNS, ...random]) {
      const re = parseRegex(source, flags);
      const r = await db.query<{ m: boolean[] }>('SELECT array_agg(x ~ $1 ORDER BY i) AS m FROM unnest($2::text[]) WITH ORDINALITY AS u(x, i)', [pgRegex(re), texts]);
      const got = r.rows[0]!.m;
      texts.forEach((text, i) => {
        checked++;
        if (got[i] !== regexTest(re, text) && failures++ < 10) t.fail(`/${source}/${flags} on ${JSON.stringify(text)}: PostgreSQL ${got[i]}, reference ${!got[i]} (as ${pgRegex(re)})`);
      });
    }
  }
  t.equal(failures, 0, `${checked} pattern × text pairs agree`);
});
