/**
 * A string as a PostgreSQL literal, for statements sent several to a round trip (the simple query
 * protocol takes no parameters). Dollar quoting needs no escaping, so large JSON goes in as it is;
 * only text that contains the tag itself is escaped instead (the E'' form with doubled
 * backslashes reads the same whatever `standard_conforming_strings` says).
 */
export function literal(text: string): string {
  if (!text.includes(TAG)) return `${TAG}${text}${TAG}`;
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

const TAG = '$sync$';

/** A value as JSON text in a jsonb literal. */
export function jsonLiteral(value: unknown): string {
  return `${literal(typeof value === 'string' ? value : JSON.stringify(value))}::jsonb`;
}

/** Ids (UUIDs, or text the cast then refuses) as a uuid[] literal. */
export function uuidArrayLiteral(ids: readonly string[]): string {
  return `${literal(`{${ids.join(',')}}`)}::uuid[]`;
}
