// A protocol server that commits to memory: it answers mutations at once and pushes nothing. The
// client benchmark uploads to it to measure the engine's own share of an upload, with no
// PostgreSQL (and no real server) in the way. It checks nothing a real server checks. It runs in
// a process of its own (`startMemoryServer` spawns this file), so its work is not counted as the engine's.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { randomUUID } from 'node:crypto';
import { applyPatch, contentHash, DEFAULT_LIMITS, unixSeconds } from '@json-sync/core';

async function serve() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const docs = new Map();
  let sequence = 0;
  const answer = (m) => {
    switch (m.type) {
      case 'create_document': {
        docs.set(m.document.id, { content: m.document.content, revision: 1 });
        return { type: 'document_created_response', document_id: m.document.id, success: true, sync_revision: 1, content_hash: contentHash(m.document.content), sequence: ++sequence, mutation_id: m.mutation_id };
      }
      case 'update_document': {
        const d = docs.get(m.patch.document_id);
        d.content = applyPatch(d.content, m.patch.patch);
        d.revision++;
        return { type: 'document_updated_response', document_id: m.patch.document_id, success: true, sync_revision: d.revision, content_hash: contentHash(d.content), sequence: ++sequence, merged: false, mutation_id: m.mutation_id };
      }
      case 'delete_document': {
        const d = docs.get(m.document_id);
        d.revision++;
        return { type: 'document_deleted_response', document_id: m.document_id, success: true, sync_revision: d.revision, sequence: ++sequence, mutation_id: m.mutation_id };
      }
      case 'get_changes_since':
        return { type: 'changes', events: [], latest_sequence: sequence, has_more: false };
      case 'ack_changes':
        return { type: 'changes_acknowledged', sequence: m.up_to_sequence };
      case 'ping':
        return { type: 'pong' };
      default:
        return null;
    }
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      const reply =
        m.type === 'authenticate'
          ? { type: 'auth_success', session_id: randomUUID(), client_id: m.client_id, user_id: randomUUID(), latest_sequence: sequence, limits: { ...DEFAULT_LIMITS }, server_time: unixSeconds() }
          : answer(m);
      if (reply) ws.send(JSON.stringify(reply));
    });
  });
  process.stdout.write(`ws://127.0.0.1:${wss.address().port}/ws\n`);
}

/** Starts the server in a child process: its URL, and close(). */
export async function startMemoryServer() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`memory server exited ${code}`)));
  });
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill();
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await serve();
