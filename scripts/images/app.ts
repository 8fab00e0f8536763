// The two application layers, the daemonless twins of the Dockerfile's
// `COPY --from=deps /app/node_modules` and `COPY package.json cmd internal`:
//
//   deps     /app/node_modules from `npm ci --omit=dev --ignore-scripts` on package.json and
//            package-lock.json alone; cached by those two files and the npm version, with the
//            fixed base mtime, so it changes only when the dependencies do.
//   sources  /app/package.json, cmd/ and internal/ as .dockerignore selects them (no tests, no
//            testdata, no internal Markdown), from the work tree like `docker build .` — tracked
//            and untracked-but-not-ignored files — with the commit time as mtime.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CachedLayer } from './base.ts';
import { packLayer } from './layer.ts';
import type { Layer } from './oci.ts';

type Log = (line: string) => void;

export async function depsLayer(root: string, cacheDir: string, epoch: number, refresh: boolean, log: Log): Promise<CachedLayer> {
  const manifest = readFileSync(join(root, 'package.json'));
  const lock = readFileSync(join(root, 'package-lock.json'));
  const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
  const k = createHash('sha256').update(manifest).update(lock).update(`npm ${npmVersion} epoch ${epoch}`).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `deps-${k}`);
  const blob = join(dir, 'layer.tar.gz');
  if (!refresh && existsSync(join(dir, 'layer.json')) && existsSync(blob)) {
    return { layer: (JSON.parse(readFileSync(join(dir, 'layer.json'), 'utf8')) as { layer: Layer }).layer, blob, cached: true };
  }
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, '.deps-'));
  try {
    const app = join(work, 'root', 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), manifest);
    writeFileSync(join(app, 'package-lock.json'), lock);
    log(`npm ci --omit=dev (npm ${npmVersion})`);
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
    // The Dockerfile keeps neither in the runtime stage (it copies node_modules and package.json only).
    rmSync(join(app, 'package.json'));
    rmSync(join(app, 'package-lock.json'));
    const layer = await packLayer({ dir: join(work, 'root'), mtime: epoch, createdBy: `npm ci --omit=dev --ignore-scripts (package-lock.json sha256 ${createHash('sha256').update(lock).digest('hex')})` }, join(work, 'layer'));
    writeFileSync(join(work, 'layer.json'), JSON.stringify({ layer }, null, 2));
    rmSync(join(work, 'root'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return { layer, blob, cached: false };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** .dockerignore, applied to paths relative to the repository root. */
export function inSourcesLayer(path: string): boolean {
  if (path === 'package.json') return true;
  if (!path.startsWith('cmd/') && !path.startsWith('internal/')) return false;
  if (path.endsWith('.test.ts')) return false;
  if (path.split('/').includes('testdata')) return false;
  if (path.startsWith('internal/') && path.endsWith('.md')) return false;
  return true;
}

export async function sourcesLayer(root: string, work: string, epoch: number, commit: string): Promise<Layer> {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', 'package.json', 'cmd', 'internal'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((p) => p !== '' && inSourcesLayer(p) && existsSync(join(root, p)));
  const staging = join(work, 'sources');
  rmSync(staging, { recursive: true, force: true });
  for (const f of files) {
    const to = join(staging, 'app', f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, f), to);
    // Only the executable bit is taken from the checkout, whatever its umask was.
    chmodSync(to, (statSync(join(root, f)).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
  const layer = await packLayer({ dir: staging, mtime: epoch, createdBy: `sources: package.json cmd/ internal/ at ${commit}` }, join(work, 'sources'));
  rmSync(staging, { recursive: true, force: true });
  return layer;
}
