import client from 'prom-client';
import type { Database } from './db/database.js';

/** Every Prometheus series the server exports on GET /metrics. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    /** Reports the database's round trips (queries and multi-statement scripts) with every scrape. */
    observeDatabase(db: Database) {
      new client.Counter({
        name: 'sync_db_round_trips_total',
        help: 'Round trips to the database: queries and multi-statement scripts',
        registers: r,
        collect() {
          this.reset();
          this.inc(db.roundTrips);
        },
      });
    },
    connections: new client.Gauge({ name: 'sync_connections', help: 'Open WebSocket connections', registers: r }),
    authenticatedConnections: new client.Gauge({ name: 'sync_authenticated_connections', help: 'Authenticated WebSocket connections', registers: r }),
    usersOnline: new client.Gauge({ name: 'sync_users_online', help: 'Users with at least one authenticated connection to this process', registers: r }),
    messages: new client.Counter({ name: 'sync_messages_total', help: 'Client messages received, by type', labelNames: ['type'] as const, registers: r }),
    changesCommitted: new client.Counter({ name: 'sync_changes_committed_total', help: 'Changes committed to the change log', registers: r }),
    batchSize: new client.Histogram({
      name: 'sync_batch_size',
      help: 'Mutations per committed batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: r,
    }),
    batchSeconds: new client.Histogram({
      name: 'sync_batch_seconds',
      help: 'Time to commit one batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    }),
    mutationSeconds: new client.Histogram({
      name: 'sync_mutation_seconds',
      help: 'From receiving a mutation to sending its reply',
      labelNames: ['type'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    conflicts: new client.Counter({ name: 'sync_conflicts_total', help: 'Mutations that lost to the server version', registers: r }),
    merges: new client.Counter({ name: 'sync_merges_total', help: 'Stale updates merged because they touched no path changed since their base', registers: r }),
    authFailures: new client.Counter({ name: 'sync_auth_failures_total', help: 'Refused authentications, by reason', labelNames: ['reason'] as const, registers: r }),
    errors: new client.Counter({ name: 'sync_errors_total', help: 'Error replies, by code', labelNames: ['code'] as const, registers: r }),
    ackLag: new client.Histogram({
      name: 'sync_client_ack_lag',
      help: 'Sequences a client was behind the latest when it acknowledged',
      buckets: [0, 1, 2, 5, 10, 50, 100, 500, 1000, 10000],
      registers: r,
    }),
    outboundQueuedBytes: new client.Gauge({ name: 'sync_outbound_queued_bytes', help: 'Bytes queued for clients that are not reading, all connections together', registers: r }),
    socketBufferedBytes: new client.Gauge({ name: 'sync_socket_buffered_bytes', help: 'Bytes uWS holds unsent for clients, all connections together', registers: r }),
    attachmentDownloads: new client.Gauge({ name: 'sync_attachment_downloads', help: 'Attachment downloads streaming now', registers: r }),
    maxAckLag: new client.Gauge({ name: 'sync_client_ack_lag_max', help: 'Largest acknowledgement lag among connected clients', registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
