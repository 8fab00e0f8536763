// Reproducible layer tarballs: the same directory gives the same bytes, on any machine with
// GNU tar and gzip. https://reproducible-builds.org/docs/archives/ — sorted names, one fixed
// mtime, numeric owners forced to 0:0 (except the entries listed in `owned`), no atime/ctime,
// a PAX header name without the process id, gzip without name and time stamp. Permission bits
// are taken as they are: the builder runs with umask 022 so that staged files do not depend on
// the caller's umask.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MEDIA_TYPE_LAYER_GZIP, type Layer } from './oci.ts';

export interface LayerSpec {
  /** The folder whose contents become the layer's root. */
  dir: string;
  /** mtime of every entry (seconds since the epoch). */
  mtime: number;
  /** Entries (relative to `dir`) that keep another owner than root, e.g. `data` owned by 65532. */
  owned?: readonly { path: string; uid: number; gid: number }[];
  createdBy: string;
}

const TAR_FLAGS = (mtime: number): string[] => [
  '--format=posix',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
  `--mtime=@${mtime}`,
  '--numeric-owner',
  '--no-recursion',
  '--null',
];

/** Every path under `dir`, relative, sorted byte-wise (what `--sort=name` does, made explicit). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
}

export async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Writes `<out>.tar.gz` for the layer and returns its descriptor. The tar itself is written to
 * `<out>.tar` first (its digest is the diff_id) and removed after compression.
 */
export async function packLayer(spec: LayerSpec, out: string): Promise<Layer> {
  const tar = `${out}.tar`;
  const owned = spec.owned ?? [];
  const ownedPaths = new Set(owned.map((o) => o.path));
  const list = listTree(spec.dir).filter((p) => !ownedPaths.has(p));
  const listFile = `${out}.list`;
  writeFileSync(listFile, list.map((p) => `${p}\0`).join(''));
  execFileSync('tar', ['--create', `--file=${tar}`, `--directory=${spec.dir}`, ...TAR_FLAGS(spec.mtime), '--owner=0', '--group=0', `--files-from=${listFile}`]);
  // Appended after the sorted body: still one fixed order, and no chown (or root) needed.
  for (const o of owned) {
    writeFileSync(listFile, `${o.path}\0`);
    execFileSync('tar', ['--append', `--file=${tar}`, `--directory=${spec.dir}`, ...TAR_FLAGS(spec.mtime), `--owner=${o.uid}`, `--group=${o.gid}`, `--files-from=${listFile}`]);
  }
  const diffId = await fileDigest(tar);
  const uncompressedSize = statSync(tar).size;
  // -n: no file name or time stamp in the gzip header; gzip replaces <out>.tar by <out>.tar.gz.
  execFileSync('gzip', ['-n', '-6', '--force', tar]);
  rmSync(listFile);
  const gz = `${tar}.gz`;
  return { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: await fileDigest(gz), size: statSync(gz).size, diffId, uncompressedSize, createdBy: spec.createdBy };
}
