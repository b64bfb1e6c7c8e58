import type { ClientMessage } from '@json-sync/core';

/** What attachment transfers need of the connection (the Transport). */
export interface AttachmentWire {
  /** Authenticated and open. */
  readonly live: boolean;
  /** Sends one message; false when the connection is not live (nothing was sent). */
  send(message: ClientMessage): boolean;
  /** Sends one binary frame; false when the connection is not live. */
  sendBinary(frame: Uint8Array): boolean;
}
