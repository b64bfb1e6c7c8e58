/**
 * A string as a PostgreSQL literal, for statements sent several to a round trip (the simple query
 * protocol takes no parameters). The E'' form with doubled backslashes reads the same whatever
 * `standard_conforming_strings` says.
 */
export function literal(text: string): string {
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/** A value as JSON text in a jsonb literal. */
export function jsonLiteral(value: unknown): string {
  return `${literal(typeof value === 'string' ? value : JSON.stringify(value))}::jsonb`;
}
