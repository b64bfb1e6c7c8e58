// Kinds of change in the public types (history entries), kept apart from the storage module so
// that the package's type declarations do not pull in better-sqlite3's.
export type MutationKind = 'create' | 'update' | 'delete';
export type ChangeOrigin = 'local' | 'undo' | 'redo' | 'remote';
