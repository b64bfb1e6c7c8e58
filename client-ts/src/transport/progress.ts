import type { Socket } from 'node:net';

/**
 * Bytes the socket has moved so far: read from the peer, plus written into the kernel (what still
 * waits in Node's own buffer does not count). A peer that reads or writes anything moves it.
 */
export function socketProgress(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten - socket.writableLength;
}
