export { SyncEngine, type ConflictRecord, type DocumentSnapshot, type EngineOptions, type HistoryEntry } from './engine.js';
export { SyncError, ENGINE_ERROR_CODES, type EngineErrorCode } from './errors.js';
export { EventType, EVENT_NAMES, type EventHandler, type EventName, type SyncEvent } from './events.js';
export { applyMergePatch } from './merge-patch.js';
export type { Logger } from './logger.js';
export type { JsonObject, JsonValue, PatchOp } from '@json-sync/core';
