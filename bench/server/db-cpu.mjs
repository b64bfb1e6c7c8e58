// PostgreSQL's own CPU during a measured window, read from /proc (the database must run on this
// machine): utime + stime of the backends serving one database — the server's pool, its LISTEN
// connection, or a baseline's connections — and, for reference, of every process of the cluster
// (the postmaster's children: WAL writer, checkpointer, autovacuum, but also other databases'
// backends when the cluster is shared with other work).
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux everywhere). */
const TICKS = 100;

/** [ppid, utime + stime in seconds] of a process, or undefined once it is gone. */
function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return [Number(f[1]), (Number(f[11]) + Number(f[12])) / TICKS];
}

function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (stat(name)?.[0] === ppid) out.push(Number(name));
  }
  return out;
}

function cpuOf(pids) {
  const m = new Map();
  for (const pid of pids) {
    const s = stat(pid);
    if (s) m.set(pid, s[1]);
  }
  return m;
}

/** CPU seconds used between two readings; a process that started in between counts whole. */
function spent(before, after) {
  let total = 0;
  for (const [pid, t] of after) total += t - (before.get(pid) ?? 0);
  return total;
}

/**
 * A probe on one database: `start()` then `stop()` around the window; `stop()` resolves with the
 * CPU seconds of that database's backends and of the whole cluster, or null when the database is
 * not on this machine. The probe's own connection is left out of the first figure.
 */
export async function databaseCpuProbe(dbUrl) {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  const self = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const postmaster = stat(self)?.[0];
  const backends = async () =>
    (await c.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).rows.map((r) => r.pid);
  let before;
  return {
    async start() {
      if (postmaster === undefined) return;
      before = { db: cpuOf(await backends()), all: cpuOf(childrenOf(postmaster)) };
    },
    async stop() {
      if (postmaster === undefined) {
        await c.end();
        return null;
      }
      // Backends that appeared meanwhile count too; those that exited meanwhile are lost (the pool keeps its connections).
      const pids = new Set([...before.db.keys(), ...(await backends())]);
      const after = { db: cpuOf(pids), all: cpuOf(childrenOf(postmaster)) };
      await c.end();
      return { backends: spent(before.db, after.db), cluster: spent(before.all, after.all) };
    },
  };
}
