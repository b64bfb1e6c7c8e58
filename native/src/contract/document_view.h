// Generated from native/js/contract/document-view.ts and client-ts/src/storage/schema.ts by native/js/contract/render-header.ts
// (npm run generate:contract -w native): do not edit. contract.test.ts fails when it is stale.
#pragma once

namespace sync_client::document_view {

/** The PRAGMA user_version these reads are written for (SCHEMA_VERSION of client-ts/src/storage/schema.ts). */
inline constexpr int kSchemaVersion = 5;

/** How a column goes into the JSON object: a string, a number, or JSON text as it is (NULL: null). */
enum class ColumnKind { kText, kInteger, kJson };

struct Member {
  const char *name;
  ColumnKind kind;
};

/** sync_engine_get_document's JSON object: its members in order, the columns of both statements. */
inline constexpr Member kMembers[] = {
    {"id", ColumnKind::kText},
    {"title", ColumnKind::kText},
    {"content", ColumnKind::kJson},
    {"sync_revision", ColumnKind::kInteger},
    {"pending", ColumnKind::kInteger},
    {"created_at", ColumnKind::kText},
    {"updated_at", ColumnKind::kText},
    {"deleted_at", ColumnKind::kText},
};

/** One document by id (?1), deleted ones too. */
inline constexpr char kReadOneSql[] = "SELECT id, title, content, sync_revision, pending, created_at, updated_at, deleted_at FROM sdk_documents WHERE id = ?1";
/** Every live document, in the engine's order. */
inline constexpr char kReadLiveSql[] = "SELECT id, title, content, sync_revision, pending, created_at, updated_at, deleted_at FROM sdk_documents WHERE deleted = 0 ORDER BY created_at, id";

}  // namespace sync_client::document_view
