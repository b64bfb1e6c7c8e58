/**
 * Every size limit of the protocol lives here. The server enforces these values and reports the
 * ones in force in `auth_success.limits`, so a client never has to guess them.
 */
export interface Limits {
  /** Largest WebSocket text frame, in UTF-8 bytes. */
  max_frame_bytes: number;
  /** Largest document content, as canonical JSON in UTF-8 bytes. */
  max_document_bytes: number;
  /** Deepest nesting of objects and arrays inside a document's content (the content object is depth 1). */
  max_depth: number;
  /** Most operations in one JSON Patch. */
  max_patch_ops: number;
  /** Most change events in one `changes` page. */
  max_changes_page: number;
  /** Longest email address accepted in `authenticate`. */
  max_email_length: number;
  /** Longest document title, in Unicode code points. */
  max_title_code_points: number;
  /** Largest attachment, in bytes: a larger `upload_attachment` is refused before any byte is stored. */
  max_attachment_bytes: number;
  /** Most attachment bytes one user may hold (their uploads, finished and in progress); 0: no quota. */
  attachment_quota_bytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  max_frame_bytes: 1024 * 1024,
  max_document_bytes: 512 * 1024,
  max_depth: 64,
  max_patch_ops: 1000,
  max_changes_page: 500,
  max_email_length: 254,
  max_title_code_points: 128,
  max_attachment_bytes: 1024 * 1024 * 1024,
  attachment_quota_bytes: 0,
});

/** Auth window: a signed timestamp more than this many seconds from the server's clock is refused. */
export const AUTH_MAX_SKEW_SECONDS = 300;
/** A signature is remembered (and refused again) for this long. */
export const AUTH_REPLAY_WINDOW_SECONDS = 600;
