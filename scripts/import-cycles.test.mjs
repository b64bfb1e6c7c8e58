import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCycles } from './import-cycles.mjs';

t.test('a type-only import that closes a loop is a cycle; a one-way chain is not', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
  writeFileSync(join(dir, 'src', 'b.ts'), "import type { C } from './c.js';\nexport const b = 1 as unknown as C;\n");
  writeFileSync(join(dir, 'src', 'c.ts'), "export type C = number;\nexport * from './leaf.js';\n");
  writeFileSync(join(dir, 'src', 'leaf.ts'), 'export const leaf = 1;\n');
  t.same(findCycles(dir), [], 'a → b → c → leaf: no cycle');
  writeFileSync(join(dir, 'src', 'leaf.ts'), "import type { a } from './a.js';\nexport const leaf = 1 as unknown as typeof a;\n");
  t.same(findCycles(dir), [['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/leaf.ts']], 'leaf → a closes the loop');
});

t.test('the repository has no import cycle', async (t) => {
  t.same(findCycles(join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..')), []);
});
