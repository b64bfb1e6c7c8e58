import type Database from 'better-sqlite3-multiple-ciphers';
import { createHash } from 'node:crypto';
import { parseContentPath, QueryError, type JsonObject } from '@json-sync/core';
import { SyncError } from '../errors.js';
import type { LocalStore, ViewRow } from '../storage/local-store.js';
import { indexedTexts, indexRows } from './index-keys.js';
import type { IndexInfo, IndexSpec } from './query-api.js';
import type { Catalog } from './sqlite-query.js';

interface Declared {
  id: number;
  name: string;
  kind: 'value' | 'text';
  fields: string[];
  paths: string[][];
  unique: boolean;
  multikey: boolean;
  table: string;
  /** Its statements: a document's rows (or text) now, its rows out, a row in, and (unique) another document holding a key. */
  current: Database.Statement;
  remove: Database.Statement;
  insert: Database.Statement;
  /** Text indexes: a document's row id taken (answering it), its hash changed, its row id forgotten. */
  add: Database.Statement | null;
  rehash: Database.Statement | null;
  forget: Database.Statement | null;
  taken: Database.Statement | null;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_FIELDS = 8;
const MAX_INDEXES = 64;

/**
 * The application's query indexes, kept in step with the views: every view write (local change,
 * remote change, snapshot, undo, rebase) rewrites the document's rows in each index inside the
 * same transaction. A value index is a table of key rows (index-keys.ts) under one B-tree; a
 * text index an FTS5 table whose tokenizer folds case and diacritics.
 */
export class Indexes {
  private declared: Declared[] = [];
  private gen = 0;
  private readonly s;

  constructor(
    private readonly store: LocalStore,
    private readonly db: Database.Database = store.db,
  ) {
    this.s = {
      list: db.prepare('SELECT id, name, kind, fields, is_unique, multikey FROM query_indexes ORDER BY id'),
      add: db.prepare('INSERT INTO query_indexes (name, kind, fields, is_unique) VALUES (?, ?, ?, ?)'),
      drop: db.prepare('DELETE FROM query_indexes WHERE name = ?'),
      multikey: db.prepare('UPDATE query_indexes SET multikey = 1 WHERE id = ?'),
    };
    this.load();
    store.onViewWritten((id, view) => this.viewWritten(id, view));
  }

  /** The indexes as the query compiler needs them, and a number that changes whenever they do. */
  catalog(): { generation: number; catalog: Catalog } {
    return {
      generation: this.gen,
      catalog: {
        values: this.declared.filter((d) => d.kind === 'value').map((d) => ({ name: d.name, table: d.table, fields: d.paths, multikey: d.multikey })),
        texts: this.declared.filter((d) => d.kind === 'text').map((d) => ({ name: d.name, table: d.table })),
      },
    };
  }

  list(): IndexInfo[] {
    return this.declared.map((d) => ({ name: d.name, kind: d.kind, fields: [...d.fields], unique: d.unique }));
  }

  /** Declares an index and builds it over the documents there are, in one transaction. */
  create(kind: 'value' | 'text', spec: IndexSpec): void {
    // Declaring what is declared already does nothing: an application declares its indexes at every start.
    if (this.declares(kind, spec)) return;
    const { name, paths, unique } = this.check(kind, spec);
    this.store.transaction(() => {
      const id = Number(this.s.add.run(name, kind, JSON.stringify(spec.fields), unique ? 1 : 0).lastInsertRowid);
      const table = tableOf(kind, id);
      if (kind === 'value') {
        const keys = paths.map((_, i) => `k${i}`);
        this.db.exec(`CREATE TABLE ${table} (doc TEXT NOT NULL, ${keys.map((k) => `${k} BLOB NOT NULL`).join(', ')})`);
        this.db.exec(`CREATE INDEX ${table}_keys ON ${table} (${keys.join(', ')}, doc)`);
        this.db.exec(`CREATE INDEX ${table}_doc ON ${table} (doc)`);
      } else {
        // FTS5 finds a row to delete by its rowid: each document's is kept beside it, with a hash
        // of the text, so an update that leaves the text alone leaves the index alone.
        this.db.exec(`CREATE VIRTUAL TABLE ${table} USING fts5(body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2')`);
        this.db.exec(`CREATE TABLE ${table}_docs (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL UNIQUE, hash TEXT NOT NULL)`);
      }
      const d = this.declare({ id, name, kind, fields: [...spec.fields], unique, multikey: false });
      this.declared.push(d);
      this.store.onRollback(() => this.load());
      // In batches: the connection cannot write while it iterates.
      const batch = this.db.prepare('SELECT id, content FROM views WHERE deleted = 0 AND id > ? ORDER BY id LIMIT 1000');
      for (let after = '', rows: { id: string; content: string }[]; (rows = batch.all(after) as typeof rows).length > 0; after = rows.at(-1)!.id) {
        for (const row of rows) {
          const content = JSON.parse(row.content) as JsonObject;
          if (d.unique) this.assertFree(d, row.id, content, 'invalid_input');
          this.write(d, row.id, content);
        }
      }
      this.gen++;
    });
  }

  drop(name: string): void {
    const d = this.declared.find((x) => x.name === name);
    if (!d) throw new SyncError('not_found', `no index ${JSON.stringify(name)}`);
    this.store.transaction(() => {
      this.s.drop.run(name);
      this.db.exec(`DROP TABLE ${d.table}`);
      if (d.kind === 'text') this.db.exec(`DROP TABLE ${d.table}_docs`);
      this.declared = this.declared.filter((x) => x !== d);
      this.store.onRollback(() => this.load());
      this.gen++;
    });
  }

  private declares(kind: 'value' | 'text', spec: IndexSpec): boolean {
    const d = spec && typeof spec === 'object' ? this.declared.find((x) => x.name === spec.name) : undefined;
    return (
      d !== undefined &&
      d.kind === kind &&
      d.unique === (spec.unique === true) &&
      Array.isArray(spec.fields) &&
      d.fields.length === spec.fields.length &&
      d.fields.every((f, i) => f === spec.fields[i])
    );
  }

  private check(kind: 'value' | 'text', spec: IndexSpec): { name: string; paths: string[][]; unique: boolean } {
    if (!spec || typeof spec !== 'object') throw new SyncError('invalid_input', 'an index is {name, fields}');
    const { name, fields } = spec;
    if (typeof name !== 'string' || !NAME.test(name)) throw new SyncError('invalid_input', 'name: 1 to 64 letters, digits, _ or -');
    if (this.declared.some((d) => d.name === name)) throw new SyncError('conflict', `an index ${JSON.stringify(name)} exists`);
    if (this.declared.length >= MAX_INDEXES) throw new SyncError('invalid_input', `at most ${MAX_INDEXES} indexes`);
    if (!Array.isArray(fields) || fields.length === 0 || fields.length > MAX_FIELDS) throw new SyncError('invalid_input', `fields: 1 to ${MAX_FIELDS} dotted content paths`);
    if (spec.unique !== undefined && typeof spec.unique !== 'boolean') throw new SyncError('invalid_input', 'unique: true or false');
    if (kind === 'text' && spec.unique) throw new SyncError('invalid_input', 'unique: a text index cannot be unique');
    let paths: string[][];
    try {
      paths = fields.map((f, i) => parseContentPath(f, `fields[${i}]`));
    } catch (err) {
      if (err instanceof QueryError) throw new SyncError('invalid_input', err.message);
      throw err;
    }
    return { name, paths, unique: spec.unique === true };
  }

  /**
   * A local write of `content` as document `id` must not give a unique index a key another
   * document holds (SyncError `conflict`, nothing written). Changes from the server are never
   * refused: the server's version wins, and the index then holds both.
   */
  assertUnique(id: string, content: JsonObject | null): void {
    if (content === null) return;
    for (const d of this.declared) if (d.unique) this.assertFree(d, id, content, 'conflict');
  }

  private assertFree(d: Declared, id: string, content: JsonObject, code: 'conflict' | 'invalid_input'): void {
    for (const row of indexRows(content, d.paths)) {
      const other = d.taken!.get(...row, id) as string | undefined;
      if (other) throw new SyncError(code, `unique index ${JSON.stringify(d.name)}: document ${other} has the same ${d.fields.join(', ')}`);
    }
  }

  private declare(r: { id: number; name: string; kind: 'value' | 'text'; fields: string[]; unique: boolean; multikey: boolean }): Declared {
    const table = tableOf(r.kind, r.id);
    const paths = r.fields.map((f) => f.split('.'));
    const keys = paths.map((_, i) => `k${i}`);
    if (r.kind === 'text') {
      return {
        ...r,
        paths,
        table,
        current: this.db.prepare(`SELECT rid, hash FROM ${table}_docs WHERE doc = ?`),
        remove: this.db.prepare(`DELETE FROM ${table} WHERE rowid = ?`),
        insert: this.db.prepare(`INSERT INTO ${table} (rowid, body) VALUES (?, ?)`),
        add: this.db.prepare(`INSERT INTO ${table}_docs (doc, hash) VALUES (?, ?) RETURNING rid`).pluck(),
        rehash: this.db.prepare(`UPDATE ${table}_docs SET hash = ? WHERE rid = ?`),
        forget: this.db.prepare(`DELETE FROM ${table}_docs WHERE doc = ?`),
        taken: null,
      };
    }
    return {
      ...r,
      paths,
      table,
      current: this.db.prepare(`SELECT ${keys.join(', ')} FROM ${table} WHERE doc = ?`).raw(),
      remove: this.db.prepare(`DELETE FROM ${table} WHERE doc = ?`),
      insert: this.db.prepare(`INSERT INTO ${table} (doc, ${keys.join(', ')}) VALUES (?, ${keys.map(() => '?').join(', ')})`),
      add: null,
      rehash: null,
      forget: null,
      taken: r.unique ? this.db.prepare(`SELECT doc FROM ${table} WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')} AND doc <> ? LIMIT 1`).pluck() : null,
    };
  }

  private load(): void {
    const rows = this.s.list.all() as { id: number; name: string; kind: 'value' | 'text'; fields: string; is_unique: number; multikey: number }[];
    this.declared = rows.map((r) => this.declare({ id: r.id, name: r.name, kind: r.kind, fields: JSON.parse(r.fields) as string[], unique: r.is_unique === 1, multikey: r.multikey === 1 }));
    this.gen++;
  }

  private viewWritten(id: string, view: ViewRow | undefined): void {
    if (this.declared.length === 0) return;
    const content = view && view.deleted === 0 ? (JSON.parse(view.content) as JsonObject) : null;
    for (const d of this.declared) this.write(d, id, content);
  }

  /** Brings the document's rows in `d` to what `content` gives (null: none), writing only when they differ. */
  private write(d: Declared, id: string, content: JsonObject | null): void {
    if (d.kind === 'text') {
      const body = content ? indexedTexts(content, d.paths).join('\n') : '';
      const hash = body ? createHash('sha1').update(body).digest('base64') : null;
      const held = d.current.get(id) as { rid: number; hash: string } | undefined;
      if ((held?.hash ?? null) === hash) return;
      if (held) d.remove.run(held.rid);
      if (hash === null) d.forget!.run(id);
      else if (held) {
        d.rehash!.run(hash, held.rid);
        d.insert.run(held.rid, body);
      } else d.insert.run(d.add!.get(id, hash), body);
      return;
    }
    const rows = content ? indexRows(content, d.paths) : [];
    const held = d.current.all(id) as Buffer[][];
    if (sameRows(held, rows)) return;
    if (held.length > 0) d.remove.run(id);
    for (const row of rows) d.insert.run(id, ...row);
    if (rows.length > 1 && !d.multikey) {
      d.multikey = true;
      this.s.multikey.run(d.id);
      this.store.onRollback(() => this.load());
      this.gen++;
    }
  }
}

function sameRows(a: Buffer[][], b: Buffer[][]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: Buffer[]) => r.map((k) => k.toString('hex')).join('|');
  const held = new Set(a.map(key));
  return b.every((r) => held.has(key(r)));
}

function tableOf(kind: 'value' | 'text', id: number): string {
  return `${kind === 'value' ? 'idx' : 'fts'}_${id}`;
}
