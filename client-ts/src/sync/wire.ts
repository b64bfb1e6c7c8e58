import type { ClientMessage } from '@json-sync/core';

/** What the engine's parts need of the connection (the Transport, or a test's stand-in). */
export interface Wire {
  /** Authenticated and open: what is sent now reaches the server's session. */
  readonly live: boolean;
  /** Sends one message; false when the connection is not live (nothing was sent). */
  send(message: ClientMessage): boolean;
  /** Stops (true) or resumes (false) reading the socket: back-pressure from the inbox. */
  setPaused(paused: boolean): void;
}
