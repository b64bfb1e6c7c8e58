/**
 * libpq's multi-host connection strings (`postgres://u:p@h1:5432,h2:5432/db?target_session_attrs=read-write`),
 * which node-postgres does not parse ("Invalid URL") and has no `target_session_attrs` for: split
 * into one single-host URL per host, in order, for the pool to try as libpq would.
 */
export interface HostList {
  /** One connection string per host, in the order given; each one node-postgres can parse. */
  targets: string[];
  /** `target_session_attrs=read-write` (or `primary`): only a host that is not in recovery will do. */
  readWrite: boolean;
}

const URL_FORM = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s;

/** What we accept of libpq's values: the ones that select the primary, or any host at all. */
const SESSION_ATTRS: Record<string, boolean> = { any: false, 'read-write': true, primary: true };

export function parseHosts(url: string): HostList {
  const m = URL_FORM.exec(url);
  // libpq's key=value form goes to node-postgres as it is: one host, as before.
  if (!m) return { targets: [url], readWrite: false };
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  // The user info ends at the last '@' (a password's own '@' should be %40, but libpq takes it too).
  const at = authority.lastIndexOf('@');
  const userInfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPart = at >= 0 ? authority.slice(at + 1) : authority;

  let readWrite = false;
  let tail = rest;
  const q = rest.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(rest.slice(q + 1));
    const attrs = params.get('target_session_attrs');
    if (attrs !== null) {
      if (!(attrs in SESSION_ATTRS)) throw new Error(`DATABASE_URL: target_session_attrs=${attrs} is not supported (use read-write, primary or any)`);
      readWrite = SESSION_ATTRS[attrs]!;
      // PostgreSQL would take it for a run-time setting and refuse the connection.
      params.delete('target_session_attrs');
    }
    const query = params.toString();
    tail = rest.slice(0, q) + (query ? `?${query}` : '');
  }
  const hosts = hostPart === '' ? [''] : hostPart.split(',');
  if (hosts.some((h) => h === '') && hosts.length > 1) throw new Error('DATABASE_URL: an empty host in the host list');
  return { targets: hosts.map((h) => `${scheme}${userInfo}${h}${tail}`), readWrite };
}

/** `host:port` of a single-host URL, for logs (never the user info). */
export function hostOf(target: string): string {
  const m = URL_FORM.exec(target);
  if (!m) return '(key=value connection string)';
  const authority = m[2]!;
  return authority.slice(authority.lastIndexOf('@') + 1) || 'localhost';
}
