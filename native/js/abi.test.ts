import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventType } from '../../client-ts/src/events.js';
import { ENGINE_ERROR_CODES } from '../../client-ts/src/errors.js';
import { RESULT_CODES, resultCodeOf } from './abi.js';

const include = join(dirname(fileURLToPath(import.meta.url)), '..', 'include');
const header = readFileSync(join(include, 'sync_client.h'), 'utf8');

/** NAME = value pairs of one enum in the header. */
function enumValues(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(new RegExp(`\\b${prefix}([A-Z_]+)\\s*=\\s*(\\d+)`, 'g'))) out.set(m[1]!, Number(m[2]));
  return out;
}

const snake = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

t.test('SyncEventType in sync_client.h equals the engine EventType', async (t) => {
  const header = enumValues('SYNC_EVENT_');
  const ts = Object.entries(EventType).filter(([, v]) => typeof v === 'number') as [string, number][];
  t.equal(header.size, ts.length, 'same number of event types');
  for (const [name, value] of ts) t.equal(header.get(snake(name)), value, `SYNC_EVENT_${snake(name)} = ${value}`);
});

t.test('SyncResult in sync_client.h equals RESULT_CODES', async (t) => {
  const header = enumValues('SYNC_RESULT_');
  t.same(Object.fromEntries(header), RESULT_CODES);
  t.match(readFileSync(join(include, 'sync_client.h'), 'utf8'), /typedef enum CSyncResult \{[^}]*\} SyncResult;/, 'one enum, its first-generation tag kept');
});

t.test('the first generation\'s Success (sync_client_compat.h) is SYNC_RESULT_SUCCESS, declared only without X11\'s macro', async (t) => {
  const compat = readFileSync(join(include, 'sync_client_compat.h'), 'utf8');
  t.match(compat, /#ifndef Success\n#ifdef __cplusplus\nstatic const SyncResult Success = SYNC_RESULT_SUCCESS;\n#else\n#define Success 0\n#endif\n#endif/);
  t.notMatch(readFileSync(join(include, 'sync_client.h'), 'utf8'), /\bSuccess\s*=/, 'not declared by the current API');
});

t.test('every engine error code maps to a specific result code', async (t) => {
  for (const code of ENGINE_ERROR_CODES) t.not(resultCodeOf(code), RESULT_CODES.UNKNOWN, code);
  t.equal(resultCodeOf('something else'), RESULT_CODES.UNKNOWN);
});
