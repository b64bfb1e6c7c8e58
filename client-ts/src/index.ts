export { SyncEngine, type ConflictRecord, type DocumentSnapshot, type EngineOptions, type HistoryEntry, type QueryInput, type QueryPage } from './engine.js';
export type { EncryptionKey } from './storage/encryption.js';
export type { IndexInfo, IndexSpec, LiveHandler, QueryDiff, QueryDocumentJson, QueryResultJson } from './query/query-api.js';
export { SyncError, ENGINE_ERROR_CODES, type EngineErrorCode } from './errors.js';
export { EventType, EVENT_NAMES, type EventHandler, type EventName, type SyncEvent } from './events.js';
export { applyMergePatch } from './merge-patch.js';
export type { Logger } from './logger.js';
export type { JsonObject, JsonValue, PatchOp } from '@json-sync/core';
