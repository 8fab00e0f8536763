// The engine's store from its config (`database` section): PostgreSQL when `database.url`
// is set (Kubernetes), else the embedded PGlite in `database.dataDir`. Shared by
// startEngine and `msrpd users`, so both open the same database the same way.
import type { EngineConfig } from '../config/engine.ts';
import { openStore, type Store } from '../store/index.ts';
import type { Logger } from '../telemetry/logger.ts';

export function openEngineStore(c: EngineConfig, logger: Logger): Promise<Store> {
  const d = c.database;
  return openStore({
    url: d.url, dataDir: d.dataDir, secretKeyFile: d.secretKeyFile, previousSecretKeyFiles: d.previousSecretKeyFiles, passwordStorage: d.passwordStorage,
    sslCaFile: d.sslCaFile, statementTimeoutMs: d.statementTimeoutMs, poolMax: d.poolMax, logger,
  });
}
