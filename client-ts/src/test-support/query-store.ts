import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueryableDocument } from '@json-sync/core';
import { Indexes } from '../query/indexes.js';
import type { QueryDocumentJson } from '../query/query-api.js';
import { Queries } from '../query/queries.js';
import { suiteEncryption } from './encryption.js';
import { LocalStore } from '../storage/local-store.js';

export interface QueryStore {
  store: LocalStore;
  indexes: Indexes;
  queries: Queries;
  /** Runs a query (its JSON object) and answers its page. */
  run(query: unknown): { documents: QueryDocumentJson[]; next: string | null };
}

/**
 * A real engine database holding `docs` as its views (synced documents, nothing pending), with
 * the engine's indexes and queries over it: the device side of the query conformance tests.
 */
export function queryStore(t: { teardown(fn: () => unknown): void }, docs: readonly QueryableDocument[]): QueryStore {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-query-'));
  const store = LocalStore.open(join(dir, 'query.db'), { durability: 'normal', ...suiteEncryption() });
  const indexes = new Indexes(store);
  const queries = new Queries(store.db, () => indexes.catalog(), 2000);
  t.teardown(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  store.transaction(() => {
    for (const d of docs) {
      store.insertView({
        id: d.id,
        content: JSON.stringify(d.content),
        deleted: 0,
        title: d.title,
        revision: d.revision,
        pending: 0,
        created_at: d.createdAt,
        updated_at: d.updatedAt,
        deleted_at: null,
      });
    }
  });
  return {
    store,
    indexes,
    queries,
    run: (query) => queries.run(JSON.stringify(query)) as { documents: QueryDocumentJson[]; next: string | null },
  };
}
