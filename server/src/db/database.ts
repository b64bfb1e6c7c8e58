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

/**
 * One connection held across round trips. `script` sends several statements (values inlined with
 * `literal`, as the simple query protocol takes no parameters) as one round trip and returns one
 * result per statement.
 */
export interface Session {
  script(sql: string): Promise<QueryResult<any>[]>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Round trips to the database so far (queries and scripts), for the metrics. */
  readonly roundTrips: number;
  transaction<T>(fn: (tx: Queryable) => Promise<T>, isolation?: Isolation): Promise<T>;
  /**
   * Holds one connection for `fn`, which opens and ends its own transaction inside its scripts
   * (BEGIN in the first, COMMIT in the last) so that a whole transaction can take two round trips.
   * If `fn` throws, whatever transaction it left open is rolled back.
   */
  session<T>(fn: (s: Session) => Promise<T>): Promise<T>;
  listen(channel: string, handlers: ListenHandlers): Promise<void>;
  close(): Promise<void>;
}
