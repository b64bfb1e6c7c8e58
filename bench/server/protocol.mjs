// What the load generators share: opening an authenticated connection, and percentiles.
import WebSocket from 'ws';
import { openRaw } from './raw-ws.mjs';
import { randomBytes, randomUUID } from 'node:crypto';
import { authenticateBody, sign, unixSeconds } from '@json-sync/core';

/** The authenticate message, signed. */
export function authenticateMessage(apiKey, secret, email, clientId) {
  const timestamp = unixSeconds();
  const nonce = randomBytes(16).toString('hex');
  return JSON.stringify({
    type: 'authenticate', email, client_id: clientId, api_key: apiKey, timestamp, nonce,
    signature: sign({ secret, timestamp, email, apiKey, body: authenticateBody(clientId, nonce) }),
  });
}

/** Like `connect` on the bare client (raw-ws.mjs): resolves with it once auth_success arrives. */
export async function connectRaw(url, apiKey, secret, email, clientId = randomUUID()) {
  const ws = await openRaw(url);
  return new Promise((resolve, reject) => {
    ws.onMessage = (payload) => {
      ws.onMessage = () => {};
      const text = payload.toString();
      if (text.startsWith('{"type":"auth_success"')) resolve(ws);
      else reject(new Error(text));
    };
    ws.send(authenticateMessage(apiKey, secret, email, clientId));
  });
}

/** Opens a WebSocket and authenticates as `email`; resolves with the socket once auth_success arrives. */
export function connect(url, apiKey, secret, email, clientId = randomUUID()) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(authenticateMessage(apiKey, secret, email, clientId));
      ws.once('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.type !== 'auth_success') reject(new Error(JSON.stringify(m)));
        else resolve(ws);
      });
    });
  });
}

/** The p-th quantile of ascending `sorted`, in milliseconds from nanoseconds. */
export function pct(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] / 1e6;
}

/** Prints one JSON line for the parent and waits for its go-ahead line on stdin. */
export function handshake(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
  return new Promise((resolve) => process.stdin.once('data', () => resolve()));
}
