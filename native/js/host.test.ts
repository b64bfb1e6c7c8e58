import t from 'tap';
import { RESULT_CODES } from './abi.js';
import { databasePathOf, openArgumentError } from './host.js';

const KEY = `rpa_${'0'.repeat(64)}`;
const SECRET = `rps_${'a'.repeat(64)}`;

t.test('databasePathOf: the file of a sqlite: URL or a plain path; null when there is none', async (t) => {
  t.equal(databasePathOf('sqlite:client.db?mode=rwc'), 'client.db');
  t.equal(databasePathOf('sqlite:///tmp/x.db'), '/tmp/x.db');
  t.equal(databasePathOf('notes.db'), 'notes.db');
  t.equal(databasePathOf('sqlite:?mode=rwc'), null);
  t.equal(databasePathOf(''), null);
});

t.test('openArgumentError gives each refused open argument its own result code', async (t) => {
  t.equal(openArgumentError('a.db', 'ws://127.0.0.1:8080/ws', KEY, SECRET), null);
  t.equal(openArgumentError('a.db', 'wss://sync.example.com/ws', KEY, SECRET), null);
  t.match(openArgumentError(null, 'ws://h/ws', KEY, SECRET), { code: RESULT_CODES.INVALID_URL, message: /database_url/ });
  t.match(openArgumentError(':memory:', 'ws://h/ws', KEY, SECRET), { code: RESULT_CODES.INVALID_URL, message: /must name a file/ }, 'an in-memory database cannot be read by the C side');
  for (const url of ['http://h/ws', 'localhost:8080', '', 'ws//h']) {
    t.match(openArgumentError('a.db', url, KEY, SECRET), { code: RESULT_CODES.INVALID_URL, message: /server_url/ }, url);
  }
  for (const key of ['rpa_your_api_key_here', 'key', `rpa_${'0'.repeat(63)}`, `rpa_${'A'.repeat(64)}`, SECRET]) {
    t.match(openArgumentError('a.db', 'ws://h/ws', key, SECRET), { code: RESULT_CODES.INVALID_CREDENTIALS, message: /api_key/ }, key);
  }
  t.match(openArgumentError('a.db', 'ws://h/ws', KEY, 'rps_your_secret_here'), { code: RESULT_CODES.INVALID_CREDENTIALS, message: /api_secret/ });
});
