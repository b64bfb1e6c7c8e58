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
  /** An attachment transfer moved on: numericData bytes so far, booleanData true for an upload. */
  AttachmentProgress = 10,
  /** An upload the server confirmed, or a download whose bytes matched their id (numericData: the length). */
  AttachmentCompleted = 11,
  /**
   * A transfer failed (error: why): an upload the server refused for good (too large, over quota),
   * or a download someone waited for (they got the error too). Transient failures are retried
   * without this event.
   */
  AttachmentFailed = 12,
}

/** One event as every consumer sees it (the C SDK passes the same record, with content as JSON text). */
export interface SyncEvent<C extends JsonObject = JsonObject> {
  type: EventType;
  documentId: string | null;
  title: string | null;
  /**
   * The document's content (local view) for document events; the server's version for
   * ConflictDetected; the attachment's reference for attachment events; null otherwise and for
   * DocumentDeleted.
   */
  content: C | null;
  /** The reason, for SyncError. */
  error: string | null;
  /**
   * SyncCompleted: remote changes applied; ConnectionAttempted: attempt number; SyncError:
   * dropped-event count where relevant; attachment events: bytes transferred so far.
   */
  numericData: number;
  /** True when the change started in this engine; for attachment events, true for an upload, false for a download. */
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
  attachmentProgress: EventType.AttachmentProgress,
  attachmentCompleted: EventType.AttachmentCompleted,
  attachmentFailed: EventType.AttachmentFailed,
} as const;

export type EventName = keyof typeof EVENT_NAMES;
export type EventHandler<C extends JsonObject = JsonObject> = (event: SyncEvent<C>) => void;
