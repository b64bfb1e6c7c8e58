import {
  applyPatch,
  contentHash,
  reversePatch,
  titleOf,
  type ChangeEvent,
  type ClientMessage,
  type JsonObject,
  type PatchOp,
  type ServerMessage,
  type WireDocument,
} from '@json-sync/core';

interface ModelDocument {
  content: JsonObject;
  revision: number;
  deleted: boolean;
}

const USER = '00000000-0000-4000-8000-000000000001';
const AT = '2026-12-06T00:00:00.000Z';

/**
 * A model of the sync server's rules for one user, in memory: a gap-free change log, mutations
 * applied or refused as the server does (a stale base revision loses, server wins), stored replies
 * repeated for a mutation id sent again, catch-up pages and snapshots. For property tests of the
 * engine's session, which need orders of messages (duplicates, replies after reconnects) that a
 * real server produces only by chance.
 */
export class ModelServer {
  readonly docs = new Map<string, ModelDocument>();
  readonly log: ChangeEvent[] = [];
  private readonly replies = new Map<string, ServerMessage>();

  get latest(): number {
    return this.log.length;
  }

  /** Mutation ids the server applied (a conflict record for one of these would be false). */
  applied(): Set<string> {
    return new Set(this.log.map((e) => e.mutation_id!));
  }

  /** What the server answers to one client message (nothing for the ones that need no answer). */
  receive(m: ClientMessage, clientId: string): ServerMessage[] {
    switch (m.type) {
      case 'create_document':
      case 'update_document':
      case 'delete_document':
        return [this.mutate(m, clientId)];
      case 'get_changes_since': {
        const limit = m.limit ?? 500;
        const events = this.log.slice(m.last_sequence, m.last_sequence + limit);
        return [{ type: 'changes', events, latest_sequence: this.latest, has_more: m.last_sequence + events.length < this.latest }];
      }
      case 'request_full_sync': {
        const since = m.since_sequence;
        const ids = since === undefined ? [...this.docs.keys()].filter((id) => !this.docs.get(id)!.deleted) : [...new Set(this.log.slice(since).map((e) => e.document_id))];
        const out: ServerMessage[] = ids.map((id) => ({ type: 'sync_document', document: this.wire(id) }));
        out.push({ type: 'sync_complete', synced_count: ids.length, latest_sequence: this.latest, ...(since !== undefined ? { since_sequence: since } : {}) });
        return out;
      }
      default:
        return [];
    }
  }

  /** A change made by another client, as the push this client gets. */
  other(id: string, make: (current: ModelDocument | undefined) => { type: 'create' | 'update' | 'delete'; content?: JsonObject; ops?: PatchOp[] } | null): ServerMessage | null {
    const step = make(this.docs.get(id));
    if (!step) return null;
    const mutationId = `00000000-0000-4000-9000-${String(this.log.length + 1).padStart(12, '0')}`;
    const m: ClientMessage =
      step.type === 'create'
        ? { type: 'create_document', document: { id, content: step.content! }, mutation_id: mutationId }
        : step.type === 'update'
          ? { type: 'update_document', patch: { document_id: id, patch: step.ops! }, mutation_id: mutationId }
          : { type: 'delete_document', document_id: id, mutation_id: mutationId };
    const reply = this.mutate(m, 'other-client');
    return 'sequence' in reply ? { type: 'change', change: this.log.at(-1)! } : null;
  }

  private mutate(m: Extract<ClientMessage, { type: 'create_document' | 'update_document' | 'delete_document' }>, clientId: string): ServerMessage {
    const mutationId = m.mutation_id!;
    const stored = this.replies.get(mutationId);
    if (stored) return stored;
    const id = m.type === 'create_document' ? m.document.id : m.type === 'update_document' ? m.patch.document_id : m.document_id;
    const doc = this.docs.get(id);
    const base = m.base_revision;
    let reply: ServerMessage;
    if (m.type === 'create_document') {
      if (doc && !(doc.deleted && base === doc.revision)) reply = this.conflict(id, mutationId);
      else reply = this.commit(id, 'create', m.document.content, m.document.content, null, doc, clientId, mutationId);
    } else if (!doc) {
      return { type: 'error', code: 'document_not_found', message: `no document ${id}`, mutation_id: mutationId };
    } else if (doc.deleted || (base !== undefined && base !== doc.revision)) {
      reply = this.conflict(id, mutationId);
    } else if (m.type === 'update_document') {
      let next: JsonObject;
      try {
        next = applyPatch(doc.content, m.patch.patch);
      } catch {
        return { type: 'error', code: 'invalid_patch', message: 'does not apply', mutation_id: mutationId };
      }
      reply = this.commit(id, 'update', next, m.patch.patch, reversePatch(doc.content, next), doc, clientId, mutationId);
    } else {
      reply = this.commit(id, 'delete', null, null, doc.content, doc, clientId, mutationId);
    }
    this.replies.set(mutationId, reply);
    return reply;
  }

  private commit(
    id: string,
    type: 'create' | 'update' | 'delete',
    content: JsonObject | null,
    forward: unknown,
    reverse: unknown,
    doc: ModelDocument | undefined,
    clientId: string,
    mutationId: string,
  ): ServerMessage {
    const revision = (doc?.revision ?? 0) + 1;
    const next: ModelDocument = { content: content ?? doc!.content, revision, deleted: type === 'delete' };
    this.docs.set(id, next);
    const sequence = this.log.length + 1;
    const hash = type === 'delete' ? null : contentHash(next.content);
    this.log.push({
      sequence,
      document_id: id,
      event_type: type,
      forward_patch: forward as never,
      reverse_patch: reverse as never,
      sync_revision: revision,
      content_hash: hash,
      client_id: clientId,
      mutation_id: mutationId,
      created_at: AT,
      ...(type === 'create' ? { title: titleOf(next.content) } : {}),
    });
    const common = { document_id: id, success: true as const, sync_revision: revision, sequence, mutation_id: mutationId };
    if (type === 'create') return { type: 'document_created_response', ...common, content_hash: hash! };
    if (type === 'update') return { type: 'document_updated_response', ...common, content_hash: hash!, merged: false };
    return { type: 'document_deleted_response', ...common };
  }

  private conflict(id: string, mutationId: string): ServerMessage {
    return { type: 'conflict_detected', document_id: id, resolution_strategy: 'server_wins', server_document: this.wire(id), rejected_patch: null, mutation_id: mutationId };
  }

  private wire(id: string): WireDocument {
    const d = this.docs.get(id)!;
    return {
      id,
      user_id: USER,
      title: titleOf(d.content),
      content: d.content,
      sync_revision: d.revision,
      content_hash: contentHash(d.content),
      created_at: AT,
      updated_at: AT,
      deleted_at: d.deleted ? AT : null,
    };
  }
}
