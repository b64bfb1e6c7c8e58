#!/usr/bin/env node
// The `sync-server` command. It is committed (not built) so that `npm install` can link it before
// the TypeScript is compiled; it runs the compiled CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write(`sync-server: ${cli} is missing; run \`npm run build\` first\n`);
  process.exit(1);
}
await import(cli);
