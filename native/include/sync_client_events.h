/*
 * sync_client_events.h — the event API, under the name the original examples include.
 *
 * In C it is the event part of sync_client.h (SyncEventType, SyncEventData, listeners,
 * sync_engine_process_events, notify and fd) plus sync_event_type_name(). In C++ (C++11 or later)
 * it also brings the wrapper (sync_client.hpp) and SyncClient::get_event_name(); unless
 * SYNC_NO_COMPAT is defined, also the original examples' global names `SyncEngine` (the class
 * SyncClient::sync_engine) and get_event_name().
 */
#ifndef SYNC_CLIENT_EVENTS_H
#define SYNC_CLIENT_EVENTS_H

#include "sync_client.h"

/** "DocumentCreated", …, "AttachmentFailed" (the TypeScript EventType names); "Unknown" for other values. Never NULL. */
static inline const char *sync_event_type_name(int event_type) {
    switch (event_type) {
        case SYNC_EVENT_DOCUMENT_CREATED: return "DocumentCreated";
        case SYNC_EVENT_DOCUMENT_UPDATED: return "DocumentUpdated";
        case SYNC_EVENT_DOCUMENT_DELETED: return "DocumentDeleted";
        case SYNC_EVENT_SYNC_STARTED: return "SyncStarted";
        case SYNC_EVENT_SYNC_COMPLETED: return "SyncCompleted";
        case SYNC_EVENT_SYNC_ERROR: return "SyncError";
        case SYNC_EVENT_CONFLICT_DETECTED: return "ConflictDetected";
        case SYNC_EVENT_CONNECTION_LOST: return "ConnectionLost";
        case SYNC_EVENT_CONNECTION_ATTEMPTED: return "ConnectionAttempted";
        case SYNC_EVENT_CONNECTION_SUCCEEDED: return "ConnectionSucceeded";
        case SYNC_EVENT_ATTACHMENT_PROGRESS: return "AttachmentProgress";
        case SYNC_EVENT_ATTACHMENT_COMPLETED: return "AttachmentCompleted";
        case SYNC_EVENT_ATTACHMENT_FAILED: return "AttachmentFailed";
        default: return "Unknown";
    }
}

#ifdef __cplusplus
#include "sync_client.hpp"

namespace SyncClient {
inline const char *get_event_name(int event_type) { return sync_event_type_name(event_type); }
}  // namespace SyncClient

#ifndef SYNC_NO_COMPAT
/* The original examples' global names (they use a class SyncEngine): see sync_client_compat.h. */
typedef SyncClient::sync_engine SyncEngine;
using SyncClient::get_event_name;
#endif
#endif

#endif /* SYNC_CLIENT_EVENTS_H */
