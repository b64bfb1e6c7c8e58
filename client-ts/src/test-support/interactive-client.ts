import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Drives the interactive task manager example (client-ts/examples/interactive-client.ts) as a user
// would: the compiled example, exactly what `npm run client` runs; `npm run build` must have run first.
export const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'examples', 'interactive-client.js');
if (!existsSync(EXAMPLE)) throw new Error(`${EXAMPLE} is missing: run \`npm run build\` first`);

const TASK_LINE = /^[0-9a-f]{8} (?:\[[ x]\] |deleted$)/;
const LIST_END = /^(?:no tasks|\d+ tasks?)$/m;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A regular expression matching exactly one whole line of output. */
export const line = (text: string) => new RegExp(`^${esc(text)}$`, 'm');

/** One run of the example: flags in, commands on stdin, everything printed recorded. SYNC_API_SECRET is not inherited. */
export class Client {
  readonly child: ChildProcessWithoutNullStreams;
  out = '';
  err = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], cwd?: string, env: Record<string, string> = {}) {
    const { SYNC_API_SECRET: _inherited, ...parent } = process.env;
    this.child = spawn(process.execPath, [EXAMPLE, ...args], { cwd, stdio: 'pipe', env: { ...parent, ...env } });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Polls what was printed since offset `from` until `pattern` matches. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.out.slice(from));
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        const why = this.child.exitCode !== null ? `exited with ${this.child.exitCode}` : 'timed out';
        throw new Error(`${why} waiting for ${pattern}; printed since:\n${this.out.slice(from)}\nstderr:\n${this.err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends one command; resolves with what was printed after it, up to the end of `expect`'s match. */
  async run(command: string, expect: RegExp, timeoutMs?: number): Promise<string> {
    const from = this.out.length;
    this.child.stdin.write(`${command}\n`);
    const m = await this.waitFor(expect, from, timeoutMs);
    return this.out.slice(from, from + m.index + m[0].length);
  }

  async add(command: string): Promise<string> {
    const text = await this.run(command, /^added ([0-9a-f]{8}) .*$/m);
    return /^added ([0-9a-f]{8}) /m.exec(text)![1]!;
  }

  /** The task lines of one `list`, leaving out notices that may arrive meanwhile. */
  async list(): Promise<string[]> {
    const text = await this.run('list', LIST_END);
    return text.split('\n').filter((l) => TASK_LINE.test(l));
  }
}

