/** A query that breaks a rule of the language; `path` names the offending part (`where.priority.$inn`). */
export class QueryError extends Error {
  override readonly name = 'QueryError';
  readonly code = 'invalid_query';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}
