// Builds the browser bundles with esbuild: plain TypeScript, the pure protocol folders
// included as they are; `node:buffer` and `node:crypto` (the only Node modules they import)
// are aliased to browser stand-ins in shims/, and a global Buffer is injected. Everything is
// served from here: no CDN.
import { join } from 'node:path';
import { build } from 'esbuild';

const here = import.meta.dirname;

/** The bundle of one browser entry (e.g. protocol-entry.ts) as JavaScript text. */
export async function bundleWeb(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    inject: [join(here, 'shims', 'globals.ts')],
    alias: { 'node:buffer': join(here, 'shims', 'node-buffer.ts'), 'node:crypto': join(here, 'shims', 'node-crypto.ts') },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
