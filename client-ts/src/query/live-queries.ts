import {
  compareOrdered,
  matches,
  parseQuery,
  project,
  QueryError,
  sortKeyOf,
  valuesAt,
  type Filter,
  type JsonObject,
  type JsonValue,
  type Ordered,
  type Query,
  type QueryableDocument,
} from '@json-sync/core';
import { SyncError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LocalStore, ViewRow } from '../storage/local-store.js';
import type { LiveHandler, QueryDiff, QueryDocumentJson } from './query-api.js';
import type { Queries } from './queries.js';

/** A document of a watch's result: its place in the order, and what the handler was given. */
interface Row extends Ordered {
  document: QueryDocumentJson;
  /** `document` as JSON text, to tell a changed document from an unchanged one. */
  text: string;
}

interface Watch {
  text: string;
  query: Query;
  handler: LiveHandler;
  withTotal: boolean;
  rows: Row[];
  total: number;
  closed: boolean;
  /** The top-level equality this watch is found by (see Routes), if it has one. */
  route: { path: string; key: string } | null;
}

/**
 * Live queries. After each commit that touched documents, each watch those documents concern —
 * it held one of them, or one matches its filter now — updates its result: in memory when it can
 * (a document changed in place, entered, or left a page that was not full, decided with the
 * language's reference semantics, which the SQL is tested equal to), by running its query again
 * otherwise; then its handler hears the difference, once per commit. Watches are found through
 * the documents they hold and through a top-level equality (`{status: "open"}`), so a write
 * costs little however many watches are open.
 */
export class LiveQueries {
  private readonly watches = new Set<Watch>();
  /** Documents written in the transaction being committed, with their new views (undefined: gone). */
  private touched = new Map<string, ViewRow | undefined>();
  private readonly routes = new Routes();
  /** The watches whose result holds a document, by its id. */
  private readonly holders = new Map<string, Set<Watch>>();

  constructor(
    store: LocalStore,
    private readonly queries: Queries,
    private readonly log: Logger,
  ) {
    store.onViewWritten((id, view) => {
      if (this.watches.size === 0) return;
      if (!this.touched.has(id) && store.inTransaction) store.onRollback(() => this.touched.delete(id));
      this.touched.set(id, view);
    });
  }

  get size(): number {
    return this.watches.size;
  }

  /** Starts a watch: `handler` gets the first result at once, then a diff after each commit that changes it. Returns the stop function. */
  watch(raw: unknown, handler: LiveHandler, options: { total?: boolean } = {}): () => void {
    if (typeof handler !== 'function') throw new SyncError('invalid_input', 'handler must be a function');
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
    let query: Query;
    try {
      query = parseQuery(JSON.parse(text));
    } catch (err) {
      if (err instanceof QueryError) throw new SyncError('invalid_input', err.message);
      throw new SyncError('invalid_input', `query is not valid JSON: ${(err as Error).message}`);
    }
    if (query.count) throw new SyncError('invalid_input', 'count: a live query watches documents; ask for the total with { total: true }');
    this.queries.compile(text);
    const w: Watch = { text, query, handler, withTotal: options.total === true, rows: [], total: 0, closed: false, route: routeOf(query.where) };
    this.watches.add(w);
    this.routes.add(w);
    this.rerun(w, true);
    return () => {
      if (w.closed) return;
      w.closed = true;
      this.watches.delete(w);
      this.routes.remove(w);
      for (const r of w.rows) this.unhold(r.id, w);
    };
  }

  /** After a commit: the watches the touched documents concern update and are told. */
  committed(): void {
    if (this.touched.size === 0) return;
    const touched = this.touched;
    this.touched = new Map();
    const concerned = new Map<Watch, [string, ViewRow | undefined][]>();
    const add = (w: Watch, id: string, view: ViewRow | undefined) => {
      let list = concerned.get(w);
      if (!list) concerned.set(w, (list = []));
      list.push([id, view]);
    };
    for (const [id, view] of touched) {
      const content = view && view.deleted === 0 ? (JSON.parse(view.content) as JsonObject) : null;
      for (const w of this.holders.get(id) ?? []) add(w, id, view);
      for (const w of this.routes.candidates(content)) if (!this.holders.get(id)?.has(w)) add(w, id, view);
    }
    for (const [w, docs] of concerned) if (!w.closed) this.update(w, docs);
  }

  close(): void {
    for (const w of this.watches) w.closed = true;
    this.watches.clear();
  }

  /** Applies the touched documents to the watch's result in memory, or runs the query again when memory cannot say. */
  private update(w: Watch, docs: [string, ViewRow | undefined][]): void {
    const q = w.query;
    if (q.search || w.withTotal) return this.rerun(w, false);
    const rows = [...w.rows];
    const full = q.limit !== null && rows.length >= q.limit;
    for (const [id, view] of docs) {
      const at = rows.findIndex((r) => r.id === id);
      const doc = view && view.deleted === 0 ? queryable(view) : null;
      const now = doc !== null && matches(doc, q.where) && (q.after === null || compareOrdered(ordered(doc, q), q.after, q.sort) > 0);
      if (at >= 0) rows.splice(at, 1);
      if (!now) {
        // A full page that loses a document takes the next one, which only the query knows.
        if (at >= 0 && full) return this.rerun(w, false);
        continue;
      }
      const row = rowOf(doc!, view!, q);
      const place = rows.findIndex((r) => compareOrdered(row, r, q.sort) < 0);
      if (place < 0 && full) {
        // It sorts after every row of a full page: it is not on the page, and if it was, the
        // page's next document — which only the query knows — takes its place.
        if (at >= 0) return this.rerun(w, false);
        continue;
      }
      rows.splice(place < 0 ? rows.length : place, 0, row);
      if (q.limit !== null && rows.length > q.limit) rows.length = q.limit;
    }
    this.publish(w, rows, false);
  }

  private rerun(w: Watch, first: boolean): void {
    let rows: Row[];
    let total: number | undefined;
    try {
      const page = this.queries.run(w.text) as { documents: QueryDocumentJson[] };
      rows = page.documents.map((document) => {
        const doc = queryableOfJson(document);
        return { document, text: JSON.stringify(document), id: document.id, keys: w.query.sort.map((k) => sortKeyOf(doc, k)) };
      });
      if (w.withTotal) {
        const count = (this.queries.run(JSON.stringify({ ...JSON.parse(w.text), count: true, limit: undefined, after: undefined })) as { count: number }).count;
        if (first || count !== w.total) total = count;
        w.total = count;
      }
    } catch (err) {
      this.log.error(`live query ${w.text.slice(0, 200)} failed: ${(err as Error).message}`);
      return;
    }
    this.publish(w, rows, first, total);
  }

  /** Makes `rows` the watch's result and tells its handler what changed (the first time, everything), with a new total if there is one. */
  private publish(w: Watch, rows: Row[], first: boolean, total?: number): void {
    const diff = difference(w.rows, rows);
    if (total !== undefined) diff.total = total;
    for (const r of w.rows) if (!rows.some((n) => n.id === r.id)) this.unhold(r.id, w);
    for (const r of rows) this.hold(r.id, w);
    w.rows = rows;
    const empty = diff.added.length + diff.removed.length + diff.changed.length + diff.moved.length === 0 && diff.total === undefined;
    if (empty && !first) return;
    try {
      w.handler(diff);
    } catch (err) {
      this.log.error(`live query handler threw: ${(err as Error).message}`);
    }
  }

  private hold(id: string, w: Watch): void {
    let set = this.holders.get(id);
    if (!set) this.holders.set(id, (set = new Set()));
    set.add(w);
  }

  private unhold(id: string, w: Watch): void {
    const set = this.holders.get(id);
    set?.delete(w);
    if (set?.size === 0) this.holders.delete(id);
  }
}

/**
 * Watches by a top-level equality of their filter: a touched document is offered to the watches
 * whose equality its values meet, and to the watches that have none.
 */
class Routes {
  private readonly byPath = new Map<string, Map<string, Set<Watch>>>();
  private readonly open = new Set<Watch>();

  add(w: Watch): void {
    if (!w.route) return void this.open.add(w);
    let byKey = this.byPath.get(w.route.path);
    if (!byKey) this.byPath.set(w.route.path, (byKey = new Map()));
    let set = byKey.get(w.route.key);
    if (!set) byKey.set(w.route.key, (set = new Set()));
    set.add(w);
  }

  remove(w: Watch): void {
    if (!w.route) return void this.open.delete(w);
    const byKey = this.byPath.get(w.route.path);
    byKey?.get(w.route.key)?.delete(w);
  }

  /** The watches a document with this content (null: deleted) may now enter. */
  *candidates(content: JsonObject | null): Iterable<Watch> {
    yield* this.open;
    if (!content) return;
    for (const [path, byKey] of this.byPath) {
      for (const v of valuesAt(content, path.split('.'))) {
        for (const candidate of Array.isArray(v) ? [v, ...v] : [v]) yield* byKey.get(routeKey(candidate)) ?? [];
      }
    }
  }
}

/** A filter's first top-level equality with a scalar on a content path: what its watch is routed by. */
function routeOf(f: Filter): Watch['route'] {
  const fields = f.kind === 'field' ? [f] : f.kind === 'and' ? f.filters.filter((x): x is Extract<Filter, { kind: 'field' }> => x.kind === 'field') : [];
  for (const field of fields) {
    if (field.field.kind !== 'content') continue;
    const eq = field.conditions.find((c) => c.op === '$eq' && c.value !== null && !Array.isArray(c.value));
    if (eq && eq.op === '$eq') return { path: field.field.path.join('.'), key: routeKey(eq.value as JsonValue) };
  }
  return null;
}

function routeKey(v: JsonValue | undefined): string {
  return `${typeof v}:${String(v)}`;
}

function queryable(v: ViewRow): QueryableDocument {
  return { id: v.id, revision: v.revision, title: v.title, createdAt: v.created_at, updatedAt: v.updated_at, content: JSON.parse(v.content) as JsonObject };
}

function queryableOfJson(d: QueryDocumentJson): QueryableDocument {
  return { id: d.id, revision: d.sync_revision, title: d.title, createdAt: d.created_at, updatedAt: d.updated_at, content: d.content as JsonObject };
}

function ordered(doc: QueryableDocument, q: Query): Ordered {
  return { id: doc.id, keys: q.sort.map((k) => sortKeyOf(doc, k)) };
}

/** A view as a row of the result: the object a query returns for it (projected as the query says). */
function rowOf(doc: QueryableDocument, view: ViewRow, q: Query): Row {
  const document: QueryDocumentJson = {
    id: view.id,
    title: view.title,
    content: q.fields ? project(doc.content, q.fields) : doc.content,
    sync_revision: view.revision,
    pending: view.pending,
    created_at: view.created_at,
    updated_at: view.updated_at,
    deleted_at: view.deleted_at,
  };
  return { ...ordered(doc, q), document, text: JSON.stringify(document) };
}

/**
 * The diff from one result to the next: documents that left, came, changed, and those kept whose
 * order changed — all but a longest run that kept its relative order (so a document shifted by an
 * insertion is not counted as moved).
 */
function difference(before: Row[], after: Row[]): QueryDiff {
  const old = new Map(before.map((r, i) => [r.id, { r, i }]));
  const now = new Set(after.map((r) => r.id));
  const removed = before.filter((r) => !now.has(r.id)).map((r) => r.id);
  const kept = after.map((r, index) => ({ r, index })).filter(({ r }) => old.has(r.id));
  const steady = longestIncreasing(kept.map(({ r }) => old.get(r.id)!.i));
  const moved = kept.filter((_, k) => !steady.has(k)).map(({ r, index }) => ({ id: r.id, index }));
  const added = after.map((r, index) => ({ index, document: r.document })).filter(({ document }) => !old.has(document.id));
  const changed = kept.filter(({ r }) => old.get(r.id)!.r.text !== r.text).map(({ r }) => r.document);
  return { added, removed, changed, moved };
}

/** Positions (into `xs`) of one longest strictly increasing subsequence. */
function longestIncreasing(xs: number[]): Set<number> {
  const tails: number[] = [];
  const prev = new Array<number>(xs.length).fill(-1);
  for (let i = 0; i < xs.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[tails[mid]!]! < xs[i]!) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const out = new Set<number>();
  for (let i = tails.at(-1) ?? -1; i >= 0; i = prev[i]!) out.add(i);
  return out;
}
