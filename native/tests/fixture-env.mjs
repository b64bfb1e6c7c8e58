// The ctest server fixture's ENVFILE (server-fixture.mjs writes it: KEY=value lines) as an object.
import { readFileSync } from 'node:fs';

export function readFixtureEnv(file) {
  return Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
