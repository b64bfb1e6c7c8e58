/** What the server needs from a database, met by PostgreSQL (`pg`) and by embedded PGlite alike. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export type Isolation = 'read committed' | 'repeatable read';

export interface ListenHandlers {
  onNotification(payload: string): void;
  /** Called after the listening connection was lost and is back: notifications may have been missed. */
  onReconnect(): void;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(fn: (tx: Queryable) => Promise<T>, isolation?: Isolation): Promise<T>;
  listen(channel: string, handlers: ListenHandlers): Promise<void>;
  close(): Promise<void>;
}
