import { DEFAULT_LIMITS } from './limits.js';

/**
 * The one title rule shared by server, engine and C events: `content.title` when it is a string,
 * cut to 128 Unicode code points (never splitting a surrogate pair), else null. (A document
 * created with a `title` beside its content keeps that title, cut the same way, while its content
 * has none: the server applies that part, see docs/protocol.md.)
 */
export function titleOf(content: unknown): string | null {
  if (content === null || typeof content !== 'object' || Array.isArray(content)) return null;
  const title = (content as Record<string, unknown>).title;
  return typeof title === 'string' ? cutTitle(title) : null;
}

/** A title cut to `max_title_code_points` Unicode code points, never splitting a surrogate pair. */
export function cutTitle(title: string): string {
  const max = DEFAULT_LIMITS.max_title_code_points;
  // Cheap exit: a string of at most `max` UTF-16 units has at most `max` code points.
  if (title.length <= max) return title;
  let out = '';
  let count = 0;
  for (const codePoint of title) {
    if (count === max) break;
    out += codePoint;
    count++;
  }
  return out;
}
