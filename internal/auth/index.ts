// Public surface of internal/auth: pure functions, no I/O (docs/architecture.md §2.2).
export * from './errors.ts';
export { parseAuthParams, quote, splitScheme } from './params.ts';
export * from './digest.ts';
export * from './digest-client.ts';
export * from './nonce.ts';
export * from './verify.ts';
export * from './basic.ts';
export * from './guesses.ts';
