// Generated from native/js/contract/ops.ts by native/js/contract/render-header.ts
// (npm run generate:contract -w native): do not edit. contract.test.ts fails when it is stale.
#pragma once

#include <cstdint>
#include <string>

#include "op_call.h"

namespace sync_client::ops {

inline constexpr int kLiveQueryEvent = 1000;

/** The record EngineOptions of ops.ts: a JavaScript object of these members. */
struct EngineOptions {
  uint32_t reconnect_min_ms;
  uint32_t reconnect_max_ms;
  uint32_t heartbeat_interval_ms;
  uint32_t heartbeat_timeout_ms;
  uint32_t durability;
  const char *client_id;  // nullptr: null
  bool start_offline;
  const char *tls_ca_file;  // nullptr: null
  uint32_t query_time_limit_ms;
  KeyBytes encryption_key;  // nullptr: null
  bool attachment_fetch_eager;
  uint32_t attachment_cache_mib;
};

inline Record Encode(const EngineOptions &r) {
  return {{"reconnect_min_ms", Number(r.reconnect_min_ms)},
          {"reconnect_max_ms", Number(r.reconnect_max_ms)},
          {"heartbeat_interval_ms", Number(r.heartbeat_interval_ms)},
          {"heartbeat_timeout_ms", Number(r.heartbeat_timeout_ms)},
          {"durability", Number(r.durability)},
          {"client_id", OptionalString(r.client_id)},
          {"start_offline", Boolean(r.start_offline)},
          {"tls_ca_file", OptionalString(r.tls_ca_file)},
          {"query_time_limit_ms", Number(r.query_time_limit_ms)},
          {"encryption_key", Secret(r.encryption_key)},
          {"attachment_fetch_eager", Boolean(r.attachment_fetch_eager)},
          {"attachment_cache_mib", Number(r.attachment_cache_mib)}};
}

/** create: Opens the engine of the id the C side allocated; answers the database file's absolute path, which the C side reads. */
inline Op<TextResult> Create(const std::string &database_url, const std::string &server_url, const std::string &email, const std::string &api_key, const std::string &api_secret, const EngineOptions &options) { return {{"create", {{"database_url", String(database_url)}, {"server_url", String(server_url)}, {"email", String(email)}, {"api_key", String(api_key)}, {"api_secret", String(api_secret)}, {"options", Encode(options)}}}}; }

/** destroy: Closes the engine (flushing for a moment). */
inline Op<NoResult> Destroy() { return {{"destroy", {}}}; }

/** create_document: Answers the new document's id. */
inline Op<TextResult> CreateDocument(const std::string &json) { return {{"create_document", {{"json", String(json)}}}}; }

/** create_documents: All or none, in one transaction; answers the new ids as a JSON array. */
inline Op<TextResult> CreateDocuments(const std::string &json_array) { return {{"create_documents", {{"json_array", String(json_array)}}}}; }

/** create_document_with_id: Repeating the same id and content succeeds (a retry after a timeout). */
inline Op<NoResult> CreateDocumentWithId(const std::string &id, const std::string &json) { return {{"create_document_with_id", {{"id", String(id)}, {"json", String(json)}}}}; }

/** update_document: Full replacement. */
inline Op<NoResult> UpdateDocument(const std::string &id, const std::string &json) { return {{"update_document", {{"id", String(id)}, {"json", String(json)}}}}; }

/** patch_document: RFC 6902 JSON Patch. */
inline Op<NoResult> PatchDocument(const std::string &id, const std::string &patch_json) { return {{"patch_document", {{"id", String(id)}, {"patch_json", String(patch_json)}}}}; }

/** merge_document: RFC 7386 JSON Merge Patch. */
inline Op<NoResult> MergeDocument(const std::string &id, const std::string &merge_json) { return {{"merge_document", {{"id", String(id)}, {"merge_json", String(merge_json)}}}}; }

/** delete_document: Deletes the document. */
inline Op<NoResult> DeleteDocument(const std::string &id) { return {{"delete_document", {{"id", String(id)}}}}; }

/** flush: Waits up to timeout_ms until everything is on the server. */
inline Op<NoResult> Flush(uint32_t timeout_ms) { return {{"flush", {{"timeout_ms", Number(timeout_ms)}}}}; }

/** set_online: Stops or resumes connecting. */
inline Op<NoResult> SetOnline(bool online) { return {{"set_online", {{"online", Boolean(online)}}}}; }

/** undo: Reverts this engine's latest local change to the document. */
inline Op<NoResult> Undo(const std::string &id) { return {{"undo", {{"id", String(id)}}}}; }

/** redo: Reapplies the latest undone change. */
inline Op<NoResult> Redo(const std::string &id) { return {{"redo", {{"id", String(id)}}}}; }

/** get_history: The document's changes as a JSON array, oldest first. */
inline Op<TextResult> GetHistory(const std::string &id) { return {{"get_history", {{"id", String(id)}}}}; }

/** rekey: Re-encrypts the database with key (32 bytes), encrypts a plain one, or (null) decrypts it; the C side's reads are paused meanwhile. */
inline Op<NoResult> Rekey(KeyBytes key) { return {{"rekey", {{"key", Secret(key)}}}}; }

/** get_conflicts: Local changes that lost or were rejected, as a JSON array. */
inline Op<TextResult> GetConflicts() { return {{"get_conflicts", {}}}; }

/** compile_query: The SQLite statement a read-only connection answers the query with (one row, one column: the result's JSON text); "" when only the engine's connection can run it. */
inline Op<TextResult> CompileQuery(const std::string &query) { return {{"compile_query", {{"query", String(query)}}}}; }

/** query: Answers the query on the engine's own connection, as JSON text. */
inline Op<TextResult> Query(const std::string &query) { return {{"query", {{"query", String(query)}}}}; }

/** explain_query: How the query runs, as JSON: {sql, index, plan}. */
inline Op<TextResult> ExplainQuery(const std::string &query) { return {{"explain_query", {{"query", String(query)}}}}; }

/** create_index: Declares a value index from its JSON spec {name, fields, unique?}. */
inline Op<NoResult> CreateIndex(const std::string &spec) { return {{"create_index", {{"spec", String(spec)}}}}; }

/** create_text_index: Declares a full-text index from its JSON spec {name, fields}. */
inline Op<NoResult> CreateTextIndex(const std::string &spec) { return {{"create_text_index", {{"spec", String(spec)}}}}; }

/** drop_index: Drops the index of that name. */
inline Op<NoResult> DropIndex(const std::string &name) { return {{"drop_index", {{"name", String(name)}}}}; }

/** list_indexes: The indexes, as a JSON array of {name, kind, fields, unique}. */
inline Op<TextResult> ListIndexes() { return {{"list_indexes", {}}}; }

/** watch_query: Opens live query watch_id (the C side allocated it): its diffs come back as LIVE_QUERY_EVENT events. */
inline Op<NoResult> WatchQuery(uint32_t watch_id, const std::string &query, bool total) { return {{"watch_query", {{"watch_id", Number(watch_id)}, {"query", String(query)}, {"total", Boolean(total)}}}}; }

/** unwatch_query: Closes live query watch_id (nothing when it is closed already). */
inline Op<NoResult> UnwatchQuery(uint32_t watch_id) { return {{"unwatch_query", {{"watch_id", Number(watch_id)}}}}; }

/** add_attachment: Stores the bytes as an attachment of the engine (queued for upload); answers its reference as JSON text. */
inline Op<TextResult> AddAttachment(ByteSpan bytes, const char *content_type) { return {{"add_attachment", {{"bytes", Bytes(bytes)}, {"content_type", OptionalString(content_type)}}}}; }

/** add_attachment_file: Streams the file into the engine's attachment store (queued for upload); answers its reference as JSON text. */
inline Op<TextResult> AddAttachmentFile(const std::string &path, const char *content_type) { return {{"add_attachment_file", {{"path", String(path)}, {"content_type", OptionalString(content_type)}}}}; }

/** get_attachment: The attachment's bytes from the local store; not_found when they are not there. */
inline Op<BytesResult> GetAttachment(const std::string &attachment_id) { return {{"get_attachment", {{"attachment_id", String(attachment_id)}}}}; }

/** save_attachment: Writes the attachment's bytes to path, fetching them from the server first when they are not local. */
inline Op<NoResult> SaveAttachment(const std::string &attachment_id, const std::string &path) { return {{"save_attachment", {{"attachment_id", String(attachment_id)}, {"path", String(path)}}}}; }

/** fetch_attachment: Starts downloading the attachment and answers at once: progress, completion or failure come back as events. */
inline Op<NoResult> FetchAttachment(const std::string &attachment_id) { return {{"fetch_attachment", {{"attachment_id", String(attachment_id)}}}}; }

/** attachment_state: What the engine knows of the attachment, as JSON {local, received, length, uploaded}; not_found when nothing. */
inline Op<TextResult> AttachmentState(const std::string &attachment_id) { return {{"attachment_state", {{"attachment_id", String(attachment_id)}}}}; }

/** pending_attachment_uploads: How many attachments wait to be uploaded, as decimal text. */
inline Op<TextResult> PendingAttachmentUploads() { return {{"pending_attachment_uploads", {}}}; }

/** shutdown: At process exit: closes every engine at once. */
inline Op<NoResult> Shutdown() { return {{"shutdown", {}}}; }

}  // namespace sync_client::ops
