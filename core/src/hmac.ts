import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignatureInput {
  secret: string;
  /** Unix seconds. */
  timestamp: number;
  email: string;
  apiKey: string;
  body: string;
}

/** hex(HMAC-SHA256(secret, `${timestamp}.${email}.${api_key}.${body}`)) */
export function sign({ secret, timestamp, email, apiKey, body }: SignatureInput): string {
  return createHmac('sha256', secret).update(`${timestamp}.${email}.${apiKey}.${body}`, 'utf8').digest('hex');
}

/**
 * The body signed by `authenticate`: `${client_id}.${nonce}` when a nonce is sent, else empty
 * (the original form, whose signed message then ends with a dot).
 */
export function authenticateBody(clientId: string, nonce?: string): string {
  return nonce === undefined ? '' : `${clientId}.${nonce}`;
}

/** Constant-time comparison of two hex signatures; unequal lengths compare false without early exit on content. */
export function signaturesEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

export function unixSeconds(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}
