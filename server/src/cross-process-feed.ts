import type { Database } from './db/database.js';
import type { Fanout } from './fanout.js';
import type { Logger } from './logger.js';
import { decodeNotification, NOTIFY_CHANNEL } from './notify.js';

/**
 * Changes committed by other processes sharing the database: their NOTIFY names the users and
 * sequence ranges, and the fan-out reads those from the log. A LISTEN connection that comes back
 * after being lost may have missed announcements, so every connected user is caught up then.
 */
export async function followOtherProcesses(db: Database, serverId: string, fanout: Fanout, log: Logger): Promise<void> {
  await db.listen(NOTIFY_CHANNEL, {
    onNotification: (payload) => {
      const n = decodeNotification(payload);
      if (!n || n.serverId === serverId) return;
      for (const r of n.ranges) fanout.remote(r.userId, r.to);
    },
    onReconnect: () => {
      log.info('listen connection back; catching connected clients up');
      fanout.catchUpAll();
    },
  });
}
