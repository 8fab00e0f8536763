export * from './errors.ts';
export * from './store.ts';
export { openStore, DEFAULT_PGLITE_DIR, type OpenStoreOptions } from './open.ts';
export { migrate, readMigrations, MIGRATION_LOCK_KEY } from './migrate.ts';
