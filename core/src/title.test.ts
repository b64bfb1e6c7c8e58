import t from 'tap';
import { titleOf } from './title.js';

const EMOJI = '\u{1F600}'; // one code point, two UTF-16 units

t.test('a string title is kept as is', async (t) => {
  t.equal(titleOf({ title: 'Groceries' }), 'Groceries');
  t.equal(titleOf({ title: '' }), '');
  t.equal(titleOf({ title: '  spaced  ', other: 1 }), '  spaced  ');
  t.equal(titleOf({ title: 'a'.repeat(128) }), 'a'.repeat(128), 'exactly 128 code points');
});

t.test('a non-string title is null', async (t) => {
  for (const title of [1, 0, true, null, { text: 'x' }, ['x'], undefined]) t.equal(titleOf({ title }), null, JSON.stringify(title) ?? 'undefined');
  t.equal(titleOf({}), null, 'no title at all');
  t.equal(titleOf({ Title: 'x', name: 'y' }), null, 'only the member named title counts');
});

t.test('non-object content gives null', async (t) => {
  const arr = ['x'] as unknown as { title?: string };
  arr.title = 'on an array';
  for (const content of [null, undefined, 'title', 42, true, arr]) t.equal(titleOf(content), null);
});

t.test('long titles are cut to exactly 128 code points', async (t) => {
  const out = titleOf({ title: 'a'.repeat(500) });
  t.equal(out, 'a'.repeat(128));
  // Mixed BMP and astral text: the count is in code points, not UTF-16 units.
  const mixed = `${'é'.repeat(100)}${EMOJI.repeat(50)}`;
  const cut = titleOf({ title: mixed })!;
  t.equal([...cut].length, 128);
  t.equal(cut, `${'é'.repeat(100)}${EMOJI.repeat(28)}`);
});

t.test('an emoji straddling position 128 is never split', async (t) => {
  // UTF-16 units 127-128 hold the emoji: 128 code points, 129 units, kept whole.
  const straddle = `${'a'.repeat(127)}${EMOJI}b`;
  const cut = titleOf({ title: straddle })!;
  t.equal(cut, `${'a'.repeat(127)}${EMOJI}`);
  t.equal([...cut].length, 128);
  t.notOk(/[\ud800-\udbff]$/.test(cut), 'does not end in a high surrogate');

  // The emoji is the 129th code point: dropped whole, not halved.
  const after = titleOf({ title: `${'a'.repeat(128)}${EMOJI}` })!;
  t.equal(after, 'a'.repeat(128));

  // 127 units + emoji is 129 UTF-16 units but 128 code points: nothing is cut.
  t.equal(titleOf({ title: `${'a'.repeat(127)}${EMOJI}` }), `${'a'.repeat(127)}${EMOJI}`);
});

t.test('128 emoji are kept whole, the 129th is dropped', async (t) => {
  t.equal(titleOf({ title: EMOJI.repeat(128) }), EMOJI.repeat(128));
  t.equal(titleOf({ title: EMOJI.repeat(129) }), EMOJI.repeat(128));
  const odd = titleOf({ title: `a${EMOJI.repeat(200)}` })!;
  t.equal(odd, `a${EMOJI.repeat(127)}`);
  t.equal(odd.length, 255, 'no half pair at the end');
});
