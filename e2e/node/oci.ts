// A hand-made OCI image archive (image-spec v1.1 layout in a tar): one uncompressed layer
// built from files of this machine, an image config and a manifest. `ctr images import`
// reads it as it would a `docker save`/`skopeo copy oci-archive:` file, so a test can give
// containerd an image with no registry at all. Used for the pod sandbox image (pause) and
// for small test images (busybox-static).
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

export type ImageEntry =
  | { path: string; type: 'file'; mode?: number; content: Buffer | string }
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'symlink'; target: string };

export type ImageSpec = {
  /** Full reference containerd and the kubelet will know the image by, e.g. `localhost/msrp/pause:1`. */
  ref: string;
  entries: ImageEntry[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: number[];
};

/** A host file as a layer entry (read now), e.g. `await hostFile('/bin/busybox', '/bin/busybox')`. */
export async function hostFile(from: string, to: string, mode = 0o755): Promise<ImageEntry> {
  return { path: to, type: 'file', mode, content: await readFile(from) };
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block (POSIX.1-1988): names up to 100 bytes, which is all we need. */
function tarHeader(name: string, size: number, mode: number, typeflag: string, linkname = ''): Buffer {
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(linkname) > 100) throw new Error(`tar: name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii'); // mtime: fixed, so the same input gives the same digest
  h.fill(' ', 148, 156); // checksum field counts as spaces while summing
  h.write(typeflag, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

type TarItem = { name: string; mode: number; type: 'file' | 'dir' | 'symlink'; content?: Buffer; target?: string };

function tar(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    if (it.type === 'file') {
      const body = it.content ?? Buffer.alloc(0);
      parts.push(tarHeader(it.name, body.length, it.mode, '0'), body);
      const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    } else if (it.type === 'dir') {
      parts.push(tarHeader(it.name.endsWith('/') ? it.name : it.name + '/', 0, it.mode, '5'));
    } else {
      parts.push(tarHeader(it.name, 0, 0o777, '2', it.target));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive
  return Buffer.concat(parts);
}

function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/** The layer tar: parent directories first, paths relative (`bin/busybox`), as image tools write them. */
function layerTar(entries: ImageEntry[]): Buffer {
  const items: TarItem[] = [];
  const dirs = new Set<string>();
  const addParents = (p: string) => {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (d && !dirs.has(d)) {
        dirs.add(d);
        items.push({ name: d, mode: 0o755, type: 'dir' });
      }
    }
  };
  for (const e of entries) {
    const rel = e.path.replace(/^\/+/, '');
    addParents(rel);
    if (e.type === 'dir') {
      if (dirs.has(rel)) continue;
      dirs.add(rel);
      items.push({ name: rel, mode: e.mode ?? 0o755, type: 'dir' });
    } else if (e.type === 'file') {
      items.push({ name: rel, mode: e.mode ?? 0o644, type: 'file', content: Buffer.from(e.content) });
    } else {
      items.push({ name: rel, mode: 0o777, type: 'symlink', target: e.target });
    }
  }
  return tar(items);
}

/**
 * Writes an OCI image layout as a tar archive to `file` and returns the manifest digest.
 * The index names the image both ways containerd's importer reads: the
 * `io.containerd.image.name` annotation (full ref) and `org.opencontainers.image.ref.name` (tag).
 */
export async function writeOciArchive(file: string, spec: ImageSpec): Promise<{ digest: string; ref: string }> {
  const layer = layerTar(spec.entries);
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
        ...(spec.user ? { User: spec.user } : {}),
        ...(spec.exposedPorts ? { ExposedPorts: Object.fromEntries(spec.exposedPorts.map((p) => [`${p}/tcp`, {}])) } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created_by: 'msrp-k8s e2e/node/oci.ts' }],
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = sha256(manifest);
  const tag = spec.ref.slice(spec.ref.lastIndexOf(':') + 1);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.ref, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const blob = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
  const archive = tar([
    { name: 'oci-layout', mode: 0o644, type: 'file', content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', mode: 0o644, type: 'file', content: index },
    { name: 'blobs', mode: 0o755, type: 'dir' },
    { name: 'blobs/sha256', mode: 0o755, type: 'dir' },
    { name: blob(layerDigest), mode: 0o644, type: 'file', content: layer },
    { name: blob(configDigest), mode: 0o644, type: 'file', content: config },
    { name: blob(manifestDigest), mode: 0o644, type: 'file', content: manifest },
  ]);
  await writeFile(file, archive);
  return { digest: manifestDigest, ref: spec.ref };
}
