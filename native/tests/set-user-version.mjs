// set-user-version.mjs FILE VERSION: sets PRAGMA user_version of an SQLite file, as a hand edit
// would (a process of its own, with the repository's better-sqlite3: never a second SQLite inside
// the process under test). For rt_schema_version.
import Database from 'better-sqlite3-multiple-ciphers';

const [file, version] = process.argv.slice(2);
if (!file || !/^\d+$/.test(version ?? '')) throw new Error('usage: set-user-version.mjs FILE VERSION');
const db = new Database(file, { fileMustExist: true, timeout: 5000 });
db.pragma(`user_version = ${Number(version)}`);
db.close();
