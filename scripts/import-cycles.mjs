#!/usr/bin/env node
// Finds import cycles among the repository's TypeScript and JavaScript files, with the TypeScript
// compiler's own reading of each file's imports (`import type` and re-exports included: a cycle of
// types is still files that cannot be read alone). Relative imports only: packages are layers of
// their own. Exits 1 and lists each cycle when there is one.
//
//   node scripts/import-cycles.mjs [ROOT]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SKIP = new Set(['node_modules', 'dist', 'build', 'third_party', 'coverage', '.git', '.tap']);
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

function sourceFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(root);
  return out;
}

/** The file a relative specifier names: TypeScript's `.js` → `.ts` mapping, bare paths, index files. */
function resolveImport(from, specifier, known) {
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base.replace(/\.cjs$/, '.cts'), `${base}.ts`, `${base}.js`, join(base, 'index.ts'), join(base, 'index.js')];
  return candidates.find((c) => known.has(c));
}

/** Every cycle of relative imports under `root`, each as the list of its files (relative to `root`). */
export function findCycles(root) {
  const files = sourceFiles(resolve(root));
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = new Set();
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolveImport(file, ref.fileName, known);
      if (target && target !== file) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  // Tarjan's strongly connected components: every component of more than one file is a cycle.
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (v) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indexOf.get(w)));
    }
    if (low.get(v) !== indexOf.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.map((f) => relative(resolve(root), f)).sort());
  };
  for (const file of files) if (!indexOf.has(file)) visit(file);
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  if (!statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
  const cycles = findCycles(root);
  for (const cycle of cycles) console.error(`import cycle: ${cycle.join(' <-> ')}`);
  if (cycles.length > 0) process.exit(1);
  console.log('import-cycles: none');
}
