export * from './errors.ts';
export { loadConfig, type LoadOptions } from './loader.ts';
export * from './engine.ts';
export * from './admin.ts';
export * from './chat.ts';
export * from './live.ts';
export * from './watch-file.ts';
