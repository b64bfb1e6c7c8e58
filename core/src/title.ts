import { DEFAULT_LIMITS } from './limits.js';

/**
 * The one title rule shared by server, engine and C events: `content.title` when it is a string,
 * cut to 128 Unicode code points (never splitting a surrogate pair), else null. A `title` field
 * sent beside `content` is never consulted.
 */
export function titleOf(content: unknown): string | null {
  if (content === null || typeof content !== 'object' || Array.isArray(content)) return null;
  const title = (content as Record<string, unknown>).title;
  if (typeof title !== 'string') return null;
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
