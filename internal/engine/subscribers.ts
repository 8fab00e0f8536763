// The engine's subscriber-table credentials from `auth.subscribers` (docs/relay.md "Existing
// subscriber tables"): in the relay's own database (the store's connection), or in the SIP
// proxy's database on a read-only pool of its own. Without the change-feed trigger on the
// table, the credential cache's TTL becomes `cacheTtlSec`: a changed subscriber takes effect
// within that bound.
import type { EngineConfig } from '../config/engine.ts';
import type { SubscriberCredentials } from '../relay/credential-cache.ts';
import { openSubscriberDatabase, type Store } from '../store/index.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface EngineSubscribers {
  credentials: SubscriberCredentials;
  /** The credential cache's TTL (ms) the table asks for; undefined: the cache's default. */
  ttlMs: number | undefined;
  close(): Promise<void>;
}

export async function openEngineSubscribers(c: EngineConfig, store: Store, logger: Logger): Promise<EngineSubscribers | undefined> {
  const s = c.auth.subscribers;
  if (!s.enabled) return undefined;
  const spec = { table: s.table, columns: s.columns };
  const ttlMs = s.changeFeed ? undefined : s.cacheTtlSec * 1000;
  // Same database: the store's change feed already carries the table's trigger notifications.
  const db = s.url === undefined ? undefined : await openSubscriberDatabase({ url: s.url, sslCaFile: s.sslCaFile, spec, logger });
  const source = db?.source ?? await store.openSubscribers(spec);
  logger.info({ table: s.table, columns: source.present, mode: s.mode, changeFeed: s.changeFeed, ownDatabase: db !== undefined }, 'subscriber table ready');
  return {
    credentials: {
      lookup: (realm, user) => source.lookup(realm, user),
      mode: s.mode,
      ...(db !== undefined ? { ping: () => db.ping() } : {}),
      ...(db !== undefined && s.changeFeed ? { listen: (onChange) => db.listen(onChange) } : {}),
    },
    ttlMs,
    close: () => db?.close() ?? Promise.resolve(),
  };
}
