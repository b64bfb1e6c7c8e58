import type { JsonObject } from '@json-sync/core';

/**
 * Event types. The numeric values are part of the C ABI (`SYNC_EVENT_*` in sync_client.h) and
 * never change; a test checks the header against this enum.
 */
export enum EventType {
  DocumentCreated = 0,
  DocumentUpdated = 1,
  DocumentDeleted = 2,
  SyncStarted = 3,
  SyncCompleted = 4,
  SyncError = 5,
  ConflictDetected = 6,
  ConnectionLost = 7,
  ConnectionAttempted = 8,
  ConnectionSucceeded = 9,
}

/** One event as every consumer sees it (the C SDK passes the same record, with content as JSON text). */
export interface SyncEvent<C extends JsonObject = JsonObject> {
  type: EventType;
  documentId: string | null;
  title: string | null;
  /** The document's content (local view) for document events; the server's version for ConflictDetected; null otherwise and for DocumentDeleted. */
  content: C | null;
  /** The reason, for SyncError. */
  error: string | null;
  /** SyncCompleted: remote changes applied; ConnectionAttempted: attempt number; SyncError: dropped-event count where relevant. */
  numericData: number;
  /** True when the change started in this engine. */
  booleanData: boolean;
}

export const EVENT_NAMES = {
  documentCreated: EventType.DocumentCreated,
  documentUpdated: EventType.DocumentUpdated,
  documentDeleted: EventType.DocumentDeleted,
  syncStarted: EventType.SyncStarted,
  syncCompleted: EventType.SyncCompleted,
  syncError: EventType.SyncError,
  conflictDetected: EventType.ConflictDetected,
  connectionLost: EventType.ConnectionLost,
  connectionAttempted: EventType.ConnectionAttempted,
  connectionSucceeded: EventType.ConnectionSucceeded,
} as const;

export type EventName = keyof typeof EVENT_NAMES;
export type EventHandler<C extends JsonObject = JsonObject> = (event: SyncEvent<C>) => void;
