import type { CharSet, RegexNode, SafeRegex } from '@json-sync/core';

/**
 * A `$regex` of core's safe subset (core/src/query/regex.ts) as a PostgreSQL advanced regular
 * expression with the same meaning as the reference's Pike VM: characters are code points, `.`
 * takes anything but \n (everything under `s`), `^`/`$` are the text's ends (also around a \n
 * under `m`), and `i` folds ASCII letters only — so the pattern is written out with those rules
 * (every character escaped, folding spelt as classes) instead of relying on PostgreSQL's flags,
 * whose folding and line rules differ. The subset has no backreferences, so PostgreSQL runs it
 * without backtracking blow-ups; the statement timeout bounds the rest.
 */
export function pgRegex(re: SafeRegex): string {
  const fold = re.flags.includes('i');
  const multiline = re.flags.includes('m');
  const dotAll = re.flags.includes('s');
  const emit = (node: RegexNode): string => {
    switch (node.kind) {
      case 'empty':
        return '(?:)';
      case 'char':
        return fold && isAsciiLetter(node.code) ? `[${escape(node.code & ~0x20)}${escape(node.code | 0x20)}]` : escape(node.code);
      case 'any':
        return dotAll ? '.' : '[^\\n]';
      case 'set':
        return charSet(node.set, fold);
      case 'start':
        return multiline ? '(?:^|(?<=\\n))' : '^';
      case 'end':
        return multiline ? '(?:$|(?=\\n))' : '$';
      case 'concat':
        return node.items.map(emit).join('');
      case 'alt':
        return `(?:${node.options.map(emit).join('|')})`;
      case 'repeat': {
        const item = `(?:${emit(node.item)})`;
        if (node.max === null) return node.min === 0 ? `${item}*` : node.min === 1 ? `${item}+` : `${item}{${node.min},}`;
        return `${item}{${node.min},${node.max}}`;
      }
    }
  };
  return emit(re.node);
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** A code point as an escape PostgreSQL reads the same inside and outside brackets. */
function escape(code: number): string {
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\U${code.toString(16).padStart(8, '0')}`;
}

/** A class, with its ranges' ASCII letters in the other case too under `i` (as the reference's inSet). */
function charSet(set: CharSet, fold: boolean): string {
  const ranges: [number, number][] = set.ranges.map(([lo, hi]) => [lo, hi]);
  if (fold) {
    for (const [lo, hi] of set.ranges) {
      for (const [from, to, shift] of [
        [0x41, 0x5a, 0x20],
        [0x61, 0x7a, -0x20],
      ] as const) {
        const a = Math.max(lo, from);
        const b = Math.min(hi, to);
        if (a <= b) ranges.push([a + shift, b + shift]);
      }
    }
  }
  const body = ranges.map(([lo, hi]) => (lo === hi ? escape(lo) : `${escape(lo)}-${escape(hi)}`)).join('');
  return `[${set.negated ? '^' : ''}${body}]`;
}
