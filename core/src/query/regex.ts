/**
 * `$regex`: a subset of regular expressions that every backend runs in time linear in the text —
 * here as a Pike VM (a Thompson NFA simulated breadth-first: no backtracking, so no pattern can
 * take exponential time), in PostgreSQL as the same pattern rewritten for its engine. What the
 * subset holds, and what it refuses, is in docs/queries.md.
 */

export type RegexFlag = 'i' | 'm' | 's';

/** A parsed pattern: what the query keeps, and what each backend compiles. */
export interface SafeRegex {
  readonly source: string;
  readonly flags: readonly RegexFlag[];
  readonly node: RegexNode;
}

/** A set of characters: ranges of code points (inclusive), perhaps negated. */
export interface CharSet {
  readonly negated: boolean;
  readonly ranges: readonly (readonly [number, number])[];
}

export type RegexNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'char'; readonly code: number }
  | { readonly kind: 'any' }
  | { readonly kind: 'set'; readonly set: CharSet }
  | { readonly kind: 'start' }
  | { readonly kind: 'end' }
  | { readonly kind: 'concat'; readonly items: readonly RegexNode[] }
  | { readonly kind: 'alt'; readonly options: readonly RegexNode[] }
  | { readonly kind: 'repeat'; readonly item: RegexNode; readonly min: number; readonly max: number | null };

export class RegexError extends Error {}

const MAX_SOURCE = 512;
/** Counted repeats are unrolled: past this many instructions a pattern is refused. */
const MAX_PROGRAM = 4096;
const MAX_COUNT = 100;

const DIGIT: CharSet = { negated: false, ranges: [[0x30, 0x39]] };
const WORD: CharSet = { negated: false, ranges: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]] };
const SPACE: CharSet = { negated: false, ranges: [[0x09, 0x0d], [0x20, 0x20]] };
const CLASS_ESCAPES: Record<string, CharSet> = {
  d: DIGIT,
  D: { ...DIGIT, negated: true },
  w: WORD,
  W: { ...WORD, negated: true },
  s: SPACE,
  S: { ...SPACE, negated: true },
};
const CONTROL_ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b, '0': 0x00 };
/** Characters that need a backslash to stand for themselves. */
const SYNTAX = new Set([...'\\^$.|?*+()[]{}/-']);

/** Parses a pattern of the safe subset; throws RegexError saying what is refused. */
export function parseRegex(source: string, flags: string): SafeRegex {
  if (source.length > MAX_SOURCE) throw new RegexError(`pattern longer than ${MAX_SOURCE} characters`);
  const seen = new Set<RegexFlag>();
  for (const f of flags) {
    if (f !== 'i' && f !== 'm' && f !== 's') throw new RegexError(`option ${JSON.stringify(f)} is not supported (only i, m, s)`);
    seen.add(f);
  }
  const parser = new Parser(source);
  const node = parser.parse();
  if (programSize(node) > MAX_PROGRAM) throw new RegexError('pattern too large once its counted repeats are unrolled');
  return { source, flags: [...seen].sort(), node };
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): RegexNode {
    const node = this.alternation();
    if (this.i < this.s.length) throw this.error(`unexpected ${JSON.stringify(this.s[this.i])}`);
    return node;
  }

  private error(why: string): RegexError {
    return new RegexError(`${why} at position ${this.i}`);
  }

  private alternation(): RegexNode {
    const options = [this.concatenation()];
    while (this.s[this.i] === '|') {
      this.i++;
      options.push(this.concatenation());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private concatenation(): RegexNode {
    const items: RegexNode[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') items.push(this.quantified());
    return items.length === 0 ? { kind: 'empty' } : items.length === 1 ? items[0]! : { kind: 'concat', items };
  }

  private quantified(): RegexNode {
    const item = this.atom();
    const c = this.s[this.i];
    let min: number;
    let max: number | null;
    if (c === '*') [min, max] = [0, null];
    else if (c === '+') [min, max] = [1, null];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.s.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i))!;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? null : Number(m[3]);
      if (min > MAX_COUNT || (max !== null && (max > MAX_COUNT || max < min))) throw this.error(`repeat count ${m[0]} out of range (at most ${MAX_COUNT}, and min ≤ max)`);
      this.i += m[0].length - 1;
    } else return item;
    this.i++;
    if (item.kind === 'start' || item.kind === 'end') throw this.error('nothing to repeat');
    // A lazy quantifier matches the same texts for a yes/no test: read as the greedy one.
    if (this.s[this.i] === '?') this.i++;
    else if (this.s[this.i] === '+') throw this.error('possessive quantifiers are not supported');
    return { kind: 'repeat', item, min, max };
  }

  private atom(): RegexNode {
    const c = this.s[this.i]!;
    this.i++;
    switch (c) {
      case '.':
        return { kind: 'any' };
      case '^':
        return { kind: 'start' };
      case '$':
        return { kind: 'end' };
      case '[':
        return { kind: 'set', set: this.charClass() };
      case '(': {
        if (this.s[this.i] === '?') {
          if (this.s[this.i + 1] !== ':') throw this.error('lookaround, named groups and inline options are not supported (only (?:...))');
          this.i += 2;
        }
        const inner = this.alternation();
        if (this.s[this.i] !== ')') throw this.error('unclosed group');
        this.i++;
        return inner;
      }
      case ')':
        throw this.error('unmatched )');
      case '*':
      case '+':
      case '?':
        throw this.error('nothing to repeat');
      case '{':
        throw this.error('a literal { must be escaped');
      case '\\':
        return this.escape(false);
      default:
        return { kind: 'char', code: this.codePoint(c) };
    }
  }

  /** The code point starting with `c` (a surrogate pair is one character). */
  private codePoint(c: string): number {
    const code = c.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdbff && this.i < this.s.length) {
      const full = (c + this.s[this.i]).codePointAt(0)!;
      if (full > 0xffff) {
        this.i++;
        return full;
      }
    }
    return code;
  }

  /** After a backslash: a class escape, a control character, or an escaped syntax character. */
  private escape(inClass: boolean): RegexNode {
    const c = this.s[this.i];
    if (c === undefined) throw this.error('pattern ends with a backslash');
    this.i++;
    const cls = CLASS_ESCAPES[c];
    if (cls) return { kind: 'set', set: cls };
    if (c in CONTROL_ESCAPES) return { kind: 'char', code: CONTROL_ESCAPES[c]! };
    if (SYNTAX.has(c) || (inClass && c === ']')) return { kind: 'char', code: c.charCodeAt(0) };
    if (/[1-9]/.test(c)) throw this.error('backreferences are not supported');
    if (c === 'b' || c === 'B') throw this.error('word boundaries are not supported');
    throw this.error(`unknown escape \\${c}`);
  }

  private charClass(): CharSet {
    let negated = false;
    if (this.s[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const ranges: [number, number][] = [];
    // A ] right after the opening [ (or [^) is a member, not the end.
    let first = true;
    while (this.i < this.s.length && (this.s[this.i] !== ']' || first)) {
      first = false;
      const lo = this.classAtom();
      if (this.s[this.i] === '-' && this.i + 1 < this.s.length && this.s[this.i + 1] !== ']') {
        this.i++;
        const hi = this.classAtom();
        if (hi < lo) throw this.error('range out of order');
        ranges.push([lo, hi]);
      } else ranges.push([lo, lo]);
    }
    if (this.s[this.i] !== ']') throw this.error('unclosed character class');
    this.i++;
    return { negated, ranges };
  }

  /** One member of a class: a code point, written as itself or escaped. */
  private classAtom(): number {
    const c = this.s[this.i]!;
    this.i++;
    if (c === '[') throw this.error('nested or POSIX classes are not supported');
    if (c !== '\\') return this.codePoint(c);
    const node = this.escape(true);
    if (node.kind === 'char') return node.code;
    throw this.error('class escapes (\\d, \\w, \\s) inside [...] are not supported');
  }
}

function programSize(node: RegexNode): number {
  switch (node.kind) {
    case 'concat':
      return node.items.reduce((n, item) => n + programSize(item), 0);
    case 'alt':
      return node.options.reduce((n, o) => n + programSize(o) + 2, 0);
    case 'repeat': {
      const one = programSize(node.item) + 2;
      return one * (node.max === null ? Math.max(node.min, 1) : Math.max(node.max, 1));
    }
    default:
      return 1;
  }
}

// ---- the Pike VM -------------------------------------------------------------------------------

type Instruction =
  | { op: 'char'; test: (code: number) => boolean }
  | { op: 'split'; a: number; b: number }
  | { op: 'jump'; to: number }
  | { op: 'start' }
  | { op: 'end' }
  | { op: 'match' };

const NEWLINE = 0x0a;

/** ASCII letters fold under `i` (docs/queries.md: the same folding PostgreSQL's "C" collation does). */
function foldAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

function inSet(set: CharSet, code: number, fold: boolean): boolean {
  const hit = (c: number) => set.ranges.some(([lo, hi]) => c >= lo && c <= hi);
  let found = hit(code);
  if (!found && fold) {
    const lower = foldAscii(code);
    const upper = code >= 0x61 && code <= 0x7a ? code - 0x20 : code;
    found = hit(lower) || hit(upper);
  }
  return found !== set.negated;
}

function compile(re: SafeRegex): Instruction[] {
  const fold = re.flags.includes('i');
  const dotAll = re.flags.includes('s');
  const program: Instruction[] = [];
  const emit = (node: RegexNode): void => {
    switch (node.kind) {
      case 'empty':
        return;
      case 'char': {
        const want = fold ? foldAscii(node.code) : node.code;
        program.push({ op: 'char', test: fold ? (c) => foldAscii(c) === want : (c) => c === want });
        return;
      }
      case 'any':
        program.push({ op: 'char', test: dotAll ? () => true : (c) => c !== NEWLINE });
        return;
      case 'set':
        program.push({ op: 'char', test: (c) => inSet(node.set, c, fold) });
        return;
      case 'start':
        program.push({ op: 'start' });
        return;
      case 'end':
        program.push({ op: 'end' });
        return;
      case 'concat':
        for (const item of node.items) emit(item);
        return;
      case 'alt': {
        const jumps: { op: 'jump'; to: number }[] = [];
        node.options.forEach((option, k) => {
          if (k < node.options.length - 1) {
            const split = { op: 'split' as const, a: program.length + 1, b: 0 };
            program.push(split);
            emit(option);
            const jump = { op: 'jump' as const, to: 0 };
            program.push(jump);
            jumps.push(jump);
            split.b = program.length;
          } else emit(option);
        });
        for (const j of jumps) j.to = program.length;
        return;
      }
      case 'repeat': {
        for (let k = 0; k < node.min; k++) emit(node.item);
        if (node.max === null) {
          const split = { op: 'split' as const, a: program.length + 1, b: 0 };
          program.push(split);
          emit(node.item);
          program.push({ op: 'jump', to: program.indexOf(split) });
          split.b = program.length;
        } else {
          const splits: { op: 'split'; a: number; b: number }[] = [];
          for (let k = node.min; k < node.max; k++) {
            const split = { op: 'split' as const, a: program.length + 1, b: 0 };
            program.push(split);
            splits.push(split);
            emit(node.item);
          }
          for (const s of splits) s.b = program.length;
        }
        return;
      }
    }
  };
  emit(re.node);
  program.push({ op: 'match' });
  return program;
}

const programs = new WeakMap<SafeRegex, Instruction[]>();

/**
 * Whether the pattern matches anywhere in `text` (an unanchored search, as `$regex` is). Time is
 * linear in the text: each position advances every live thread once.
 */
export function regexTest(re: SafeRegex, text: string): boolean {
  let program = programs.get(re);
  if (!program) programs.set(re, (program = compile(re)));
  const multiline = re.flags.includes('m');
  const codes = Array.from(text, (ch) => ch.codePointAt(0)!);
  let current: number[] = [];
  let next: number[] = [];
  const onList = new Int32Array(program.length).fill(-1);
  // Adds thread `pc` at text position `at`, following jumps and zero-width assertions.
  const add = (list: number[], pc: number, at: number, generation: number): boolean => {
    if (onList[pc] === generation) return false;
    onList[pc] = generation;
    const ins = program![pc]!;
    switch (ins.op) {
      case 'jump':
        return add(list, ins.to, at, generation);
      case 'split':
        return add(list, ins.a, at, generation) || add(list, ins.b, at, generation);
      case 'start':
        return at === 0 || (multiline && codes[at - 1] === NEWLINE) ? add(list, pc + 1, at, generation) : false;
      case 'end':
        return at === codes.length || (multiline && codes[at] === NEWLINE) ? add(list, pc + 1, at, generation) : false;
      case 'match':
        return true;
      case 'char':
        list.push(pc);
        return false;
    }
  };
  for (let at = 0; ; at++) {
    // Unanchored: a new thread starts at every position.
    if (add(current, 0, at, at)) return true;
    if (at === codes.length) return false;
    const code = codes[at]!;
    for (const pc of current) {
      const ins = program[pc] as { op: 'char'; test: (c: number) => boolean };
      if (ins.test(code) && add(next, pc + 1, at + 1, at + 1)) return true;
    }
    [current, next] = [next, current];
    next.length = 0;
  }
}
