import { jsonLiteral, literal } from './db/sql.js';

/**
 * The NOTIFY payload that tells other server processes which users' sequences a batch committed.
 * It carries only ids and sequence ranges (the changes themselves are read from the log), split
 * to stay under PostgreSQL's cap on a payload.
 */
export const NOTIFY_CHANNEL = 'sync_changes';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_NOTIFY_BYTES = 7900;

/** A user's sequences committed by one batch. */
export interface CommittedRange {
  userId: string;
  from: number;
  to: number;
}

export interface Notification {
  /** The process that committed the ranges (it pushes them itself, from memory). */
  serverId: string;
  ranges: CommittedRange[];
}

export function encodeNotifications(serverId: string, ranges: CommittedRange[]): string[] {
  const head = `{"s":${JSON.stringify(serverId)},"r":[`;
  const out: string[] = [];
  let entries: string[] = [];
  let bytes = head.length + 2;
  for (const r of ranges) {
    const entry = JSON.stringify([r.userId, r.from, r.to]);
    if (entries.length > 0 && bytes + entry.length + 1 > MAX_NOTIFY_BYTES) {
      out.push(`${head}${entries.join(',')}]}`);
      entries = [];
      bytes = head.length + 2;
    }
    entries.push(entry);
    bytes += entry.length + 1;
  }
  if (entries.length > 0) out.push(`${head}${entries.join(',')}]}`);
  return out;
}

/** The notification in a payload, or null when it is not one of ours. */
export function decodeNotification(payload: string): Notification | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const p = parsed as { s?: unknown; r?: unknown };
  if (typeof p.s !== 'string' || !Array.isArray(p.r)) return null;
  const ranges: CommittedRange[] = [];
  for (const entry of p.r) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Number.isSafeInteger(entry[1]) || !Number.isSafeInteger(entry[2])) return null;
    ranges.push({ userId: entry[0], from: entry[1], to: entry[2] });
  }
  return { serverId: p.s, ranges };
}

/** The statement that sends `payloads` on `channel`. */
export function notifySql(channel: string, payloads: string[]): string {
  return `SELECT pg_notify(${literal(channel)}, p) FROM jsonb_array_elements_text(${jsonLiteral(payloads)}) AS p`;
}

/**
 * The NOTIFY for a batch, sent after its COMMIT in the same round trip, in a transaction of its
 * own that does not wait for the disk. PostgreSQL serialises the commits of transactions that
 * NOTIFY (a global lock held through the commit's WAL flush), so a NOTIFY inside the batch would
 * queue every concurrent batch's flush behind the others'. The data is durable before the
 * announcement leaves; the announcement is lost only if PostgreSQL itself crashes first, and then
 * every listener's connection drops and its process catches its clients up when it is back.
 */
export function notifyAfterCommitSql(channel: string, payloads: string[]): string {
  return payloads.length === 0 ? '' : `; BEGIN; SET LOCAL synchronous_commit TO OFF; ${notifySql(channel, payloads)}; COMMIT`;
}
