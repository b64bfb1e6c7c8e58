import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';
import type { Metrics } from './metrics.js';
import { SERVER_VERSION } from './version.js';

/** Seconds between two readings of the changes counter, and how many readings are kept (5 minutes). */
const SAMPLE_SECONDS = 1;
const HISTORY = 300;

export interface Status {
  version: string;
  uptimeSeconds: number;
  connections: number;
  authenticatedConnections: number;
  usersOnline: number;
  changes: {
    total: number;
    sampleSeconds: number;
    /** Changes committed per second in each sample of the last five minutes, oldest first. */
    perSecond: number[];
  };
  batches: { count: number; meanSize: number | null; meanSeconds: number | null; p95Seconds: number | null };
  mutations: { count: number; p50Seconds: number | null; p95Seconds: number | null; p99Seconds: number | null };
  conflicts: number;
  authFailures: number;
}


/**
 * What GET /status.json reports: read from the same metric objects as GET /metrics, so the page and
 * Prometheus never disagree. The one thing kept besides them is the changes counter's value once a
 * second over the last five minutes, for the page's chart of the rate.
 */
export class ServerStatus {
  private readonly readings: { at: number; total: number }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly metrics: Metrics) {}

  start(): void {
    const read = () => void this.changesTotal().then((total) => this.record(performance.now(), total));
    read();
    this.timer = setInterval(read, SAMPLE_SECONDS * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private record(at: number, total: number): void {
    this.readings.push({ at, total });
    if (this.readings.length > HISTORY + 1) this.readings.shift();
  }

  private async changesTotal(): Promise<number> {
    return sum(await this.metrics.changesCommitted.get());
  }

  async snapshot(): Promise<Status> {
    const m = this.metrics;
    const [connections, authenticated, users, changes, batchSize, batchSeconds, mutationSeconds, conflicts, authFailures] = await Promise.all([
      m.connections.get(),
      m.authenticatedConnections.get(),
      m.usersOnline.get(),
      m.changesCommitted.get(),
      m.batchSize.get(),
      m.batchSeconds.get(),
      m.mutationSeconds.get(),
      m.conflicts.get(),
      m.authFailures.get(),
    ]);
    const perSecond = this.readings.slice(1).map((r, i) => Math.max(0, (r.total - this.readings[i]!.total) / ((r.at - this.readings[i]!.at) / 1000)));
    const sizes = histogram(batchSize);
    const times = histogram(batchSeconds);
    const latency = histogram(mutationSeconds);
    return {
      version: SERVER_VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      connections: sum(connections),
      authenticatedConnections: sum(authenticated),
      usersOnline: sum(users),
      changes: { total: sum(changes), sampleSeconds: SAMPLE_SECONDS, perSecond },
      batches: { count: times.count, meanSize: mean(sizes), meanSeconds: mean(times), p95Seconds: quantile(times, 0.95) },
      mutations: { count: latency.count, p50Seconds: quantile(latency, 0.5), p95Seconds: quantile(latency, 0.95), p99Seconds: quantile(latency, 0.99) },
      conflicts: sum(conflicts),
      authFailures: sum(authFailures),
    };
  }
}

function sum(metric: MetricObjectWithValues<MetricValue<string>>): number {
  return metric.values.reduce((total, v) => total + v.value, 0);
}

interface Histogram {
  count: number;
  sum: number;
  /** Cumulative counts by upper bound, every label set added together, in increasing order. */
  buckets: [le: number, count: number][];
}

function histogram(metric: MetricObjectWithValues<MetricValueWithName<string>>): Histogram {
  const h: Histogram = { count: 0, sum: 0, buckets: [] };
  const byBound = new Map<number, number>();
  for (const v of metric.values) {
    if (v.metricName?.endsWith('_count')) h.count += v.value;
    else if (v.metricName?.endsWith('_sum')) h.sum += v.value;
    else if (v.metricName?.endsWith('_bucket')) {
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + v.value);
    }
  }
  h.buckets = [...byBound].sort((a, b) => a[0] - b[0]);
  return h;
}

function mean(h: Histogram): number | null {
  return h.count > 0 ? h.sum / h.count : null;
}

/**
 * The q-quantile estimated from the buckets as Prometheus's histogram_quantile does: linear within
 * the bucket it falls in; the highest finite bound when it falls beyond all of them.
 */
function quantile(h: Histogram, q: number): number | null {
  if (h.count === 0) return null;
  const rank = q * h.count;
  let previous: [number, number] = [0, 0];
  for (const [le, count] of h.buckets) {
    if (count >= rank) {
      if (le === Infinity) return previous[0];
      const inBucket = count - previous[1];
      return inBucket > 0 ? previous[0] + ((le - previous[0]) * (rank - previous[1])) / inBucket : le;
    }
    previous = [le, count];
  }
  return previous[0];
}
