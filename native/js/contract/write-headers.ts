/**
 * Writes the generated headers (render-header.ts) into native/src/contract/ under the repository
 * root given as the argument: `npm run generate:contract -w native` bundles and runs this.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generatedFiles } from './render-header.js';

const root = process.argv[2];
if (!root) throw new Error('usage: write-headers <repository root>');
for (const file of generatedFiles()) {
  mkdirSync(dirname(join(root, file.path)), { recursive: true });
  writeFileSync(join(root, file.path), file.text);
  console.log(`wrote ${file.path}`);
}
