import type { ClientMessageOf } from '@json-sync/core';

/** Behind by more than this many changes at login, with nothing of ours waiting: fetch each changed document once instead. */
const COMPACT_AFTER = 1000;
/** First and longest wait before asking again for what an invalid server message left unanswered. */
const INVALID_RETRY_MIN_MS = 500;
const INVALID_RETRY_MAX_MS = 30_000;

/** How to get level with the server's log after a login: pages of changes after the cursor, or a snapshot (`since`: a compacted one). */
export type LoginPlan = { kind: 'pages' } | { kind: 'snapshot'; since: number | null };

/**
 * The arithmetic of catching up, with no state of the connection: which way to catch up after a
 * login, the page requests (their size halves when a page did not fit in one frame), the highest
 * sequence the server has shown, and how long to wait before asking again after junk.
 */
export class CatchUp {
  /** Catch-up page size; halved when a page did not fit in one frame. */
  private pageLimit = 500;
  private highestSeen = 0;
  private invalidRetryMs = INVALID_RETRY_MIN_MS;

  /** The highest sequence the server has shown (a push, an answer, a page's end, a login). */
  get highest(): number {
    return this.highestSeen;
  }

  saw(sequence: number): void {
    if (sequence > this.highestSeen) this.highestSeen = sequence;
  }

  /**
   * A fresh replica (never applied anything) or an unfinished full sync takes a full snapshot; a
   * long absence with nothing of ours unanswered takes a compacted one; otherwise pages.
   */
  planLogin(cursor: number, latest: number, unanswered: number, fullSyncOwed: boolean): LoginPlan {
    this.saw(latest);
    if ((cursor === 0 && latest > 0) || fullSyncOwed) return { kind: 'snapshot', since: null };
    if (latest - cursor > COMPACT_AFTER && unanswered === 0) return { kind: 'snapshot', since: cursor };
    return { kind: 'pages' };
  }

  pageRequest(cursor: number): ClientMessageOf<'get_changes_since'> {
    return { type: 'get_changes_since', last_sequence: cursor, limit: this.pageLimit };
  }

  /** A page ended: whether there is more to fetch after `cursor`. A page that arrived whole also resets the junk back-off. */
  morePages(latest: number, hasMore: boolean, cursor: number): boolean {
    this.invalidRetryMs = INVALID_RETRY_MIN_MS;
    this.saw(latest);
    return hasMore || this.highestSeen > cursor;
  }

  /** The connection closed with `code`: 1009 means a page did not fit in one frame, so ask for smaller ones. */
  connectionClosed(code: number): void {
    if (code === 1009 && this.pageLimit > 1) this.pageLimit = Math.max(1, Math.floor(this.pageLimit / 2));
  }

  /** How long to wait before asking again for what junk left unanswered: doubling, up to 30 s, until a page applies. */
  nextInvalidRetryMs(): number {
    const delay = this.invalidRetryMs;
    this.invalidRetryMs = Math.min(this.invalidRetryMs * 2, INVALID_RETRY_MAX_MS);
    return delay;
  }
}
