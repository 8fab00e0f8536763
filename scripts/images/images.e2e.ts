// `npm run test:images`: builds the four images with scripts/images/build.ts and runs them with a
// real OCI runtime, the way a kubelet would with readOnlyRootFilesystem and runAsUser 65532.
// Not part of `npm test` (a cold build takes about a minute and twice that for the
// reproducibility check); `.ci/peers.d/40-images.sh` installs the tools and runs it in CI.
//
// Tools: mmdebstrap, umoci (unpacks the layout into a runtime bundle), runc, skopeo, root.
// Missing tools skip the suite with the reason, except under CI=true where they fail it.
// crun is not used: crun 1.8 refuses to start anything on these machines' hybrid cgroup
// layout ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2": the
// cgroup2 hierarchy at /sys/fs/cgroup/unified has the hugetlb controller); runc 1.1 runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const build = fileURLToPath(new URL('./build.ts', import.meta.url));
const TOOLS = ['mmdebstrap', 'umoci', 'runc', 'skopeo', 'dpkg-deb', 'openssl'];
const onPath = (t: string): boolean => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0;
const missing = TOOLS.filter((t) => !onPath(t));
const reason = missing.length > 0
  ? `missing ${missing.join(', ')}: apt-get install mmdebstrap umoci runc skopeo openssl (or source .ci/peers.d/40-images.sh)`
  : process.getuid?.() !== 0 ? 'needs root (mmdebstrap in root mode, runc)' : undefined;
const skip = reason !== undefined && process.env.CI !== 'true' ? reason : false;

interface Record_ {
  tag: string;
  archive: string;
  images: { target: string; reference: string; manifestDigest: string; configDigest: string; compressedSize: number; uncompressedSize: number }[];
  layers: { digest: string }[];
  build: { seconds: number };
}

function runBuild(out: string, ...args: string[]): Record_ {
  execFileSync(process.execPath, [build, '--out', out, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  return JSON.parse(readFileSync(join(out, 'images.json'), 'utf8')) as Record_;
}

describe('container images built without a daemon (npm run images)', { skip }, () => {
  if (reason !== undefined) {
    // Only reached under CI=true: a missing tool is a failure there.
    it('has its tools', () => assert.fail(reason));
    return;
  }
  let dir: string;
  let out: string;
  let rec: Record_;
  let rootfs: string;
  let template: Record<string, unknown>;
  let tls: string;
  const started: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'msrp-images-'));
    out = join(dir, 'out');
    rec = runBuild(out);
    // One unpacked root file system serves every run: it is mounted read-only.
    const msrpd = rec.images.find((i) => i.target === 'msrpd')!;
    execFileSync('umoci', ['unpack', '--image', `${join(out, 'oci')}:${msrpd.reference}`, join(dir, 'bundle')], { stdio: 'inherit' });
    rootfs = join(dir, 'bundle', 'rootfs');
    template = JSON.parse(readFileSync(join(dir, 'bundle', 'config.json'), 'utf8')) as Record<string, unknown>;
    tls = join(dir, 'tls');
    mkdirSync(tls, { mode: 0o755 });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tls, 'tls.key'), '-out', join(tls, 'tls.crt'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    execFileSync('chmod', ['0644', join(tls, 'tls.key')]);
  }, { timeout: 600_000 });

  after(() => {
    for (const id of started) spawnSync('runc', ['delete', '--force', id], { stdio: 'ignore' });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A runtime bundle for one target: the image's own process, hardened as the chart does. */
  function bundle(target: string, args: string[], env: string[] = []): string {
    const b = join(dir, `bundle-${target}-${started.length}`);
    mkdirSync(b);
    const c = structuredClone(template) as {
      process: { terminal: boolean; args: string[]; env: string[]; capabilities: Record<string, string[]>; user: { uid: number; gid: number } };
      root: { path: string; readonly: boolean };
      mounts: { destination: string; type: string; source: string; options: string[] }[];
    };
    const image = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${join(out, 'oci')}:${rec.images.find((i) => i.target === target)!.reference}`], { encoding: 'utf8' })) as { config: { Entrypoint: string[] } };
    c.process.terminal = false;
    c.process.args = [...image.config.Entrypoint, ...args];
    c.process.env.push(...env);
    for (const k of Object.keys(c.process.capabilities)) c.process.capabilities[k] = [];
    c.root = { path: rootfs, readonly: true };
    c.mounts = c.mounts.filter((m) => m.destination !== '/data');
    c.mounts.push(
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=0755', 'uid=65532', 'gid=65532'] },
      { destination: '/tls', type: 'bind', source: tls, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    );
    writeFileSync(join(b, 'config.json'), JSON.stringify(c));
    return b;
  }

  function id(target: string): string {
    const i = `msrp-images-${process.pid}-${target}-${started.length}`;
    started.push(i);
    return i;
  }

  function run(target: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const b = bundle(target, args);
    const r = spawnSync('runc', ['run', '--bundle', b, id(target)], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function exec(container: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('runc', ['exec', container, ...args], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  const probe = (url: string): string[] => ['node', '-e', `const r = await fetch(${JSON.stringify(url)}); process.stdout.write(String(r.status)); process.exit(r.ok ? 0 : 1)`];

  async function waitFor(container: string, url: string, child: ChildProcess, logs: () => string): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) assert.fail(`exited with ${child.exitCode}: ${logs()}`);
      if (exec(container, probe(url)).status === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`${url} not ready after 120 s: ${logs()}`);
  }

  async function serve(target: string, env: string[], url: string, check: (container: string) => void): Promise<void> {
    const b = bundle(target, [], env);
    const container = id(target);
    const child = spawn('runc', ['run', '--bundle', b, container], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d: Buffer) => { logs += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { logs += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(container, url, child, () => logs);
      check(container);
      execFileSync('runc', ['kill', container, 'TERM']);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      assert.equal(code, 0, `${target} exits 0 on SIGTERM: ${logs}`);
    } finally {
      if (child.exitCode === null) spawnSync('runc', ['kill', container, 'KILL'], { stdio: 'ignore' });
    }
  }

  it('builds the four images into one OCI layout and one archive that skopeo reads', () => {
    assert.deepEqual(rec.images.map((i) => i.target), ['msrpd', 'admin', 'operator', 'msrp']);
    assert.match(rec.tag, /^\d+\.\d+\.\d+.*-[0-9a-f]{7}(-dirty)?$/);
    for (const i of rec.images) {
      const raw = execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${join(out, rec.archive)}:${i.reference}`]);
      assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, i.manifestDigest, i.reference);
    }
  });

  it('has no shell, and nothing to execute but node', () => {
    const executables: string[] = [];
    const shells: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        const rel = relative(rootfs, p);
        if (['sh', 'bash', 'dash', 'busybox', 'env'].includes(e.name)) shells.push(rel);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && /^(usr\/)?(local\/)?s?bin\//.test(rel) && (lstatSync(p).mode & 0o111) !== 0) executables.push(rel);
      }
    };
    walk(rootfs);
    assert.deepEqual(shells, []);
    assert.deepEqual(executables, ['usr/local/bin/node']);
    assert.ok(!existsSync(join(rootfs, 'bin/sh')));
  });

  it('runs the msrp client and the operator as uid 65532 on a read-only root (--help exits 0)', () => {
    assert.deepEqual((template.process as { user: unknown }).user, { uid: 65532, gid: 65532 });
    const msrp = run('msrp', ['--help']);
    assert.equal(msrp.status, 0, msrp.stderr);
    assert.match(msrp.stdout + msrp.stderr, /Usage: msrp/);
    const operator = run('operator', ['--help']);
    assert.equal(operator.status, 0, operator.stderr);
    assert.match(operator.stdout + operator.stderr, /msrp-operator/);
  });

  it('starts msrpd: ready on /readyz, runs as 65532, resolves localhost, cannot write its root, has no /bin/sh to exec, drains on SIGTERM', { timeout: 180_000 }, async () => {
    await serve('msrpd', [
      'MSRP_RELAY__LISTEN=[{"host":"127.0.0.1","port":2855,"transport":"tls"}]', 'MSRP_TLS__DIR=/tls',
      'MSRP_DATABASE__DATA_DIR=/data/pglite', 'MSRP_HTTP__HOST=127.0.0.1', 'MSRP_RELAY__PUBLIC_HOST=localhost',
    ], 'http://127.0.0.1:9090/readyz', (container) => {
      const whoami = exec(container, ['node', '-e', 'process.stdout.write(`${process.getuid()}:${process.getgid()}`)']);
      assert.equal(whoami.stdout, '65532:65532');
      const write = exec(container, ['node', '-e', 'require("node:fs").writeFileSync("/app/x", "")']);
      assert.notEqual(write.status, 0);
      assert.match(write.stderr, /EROFS/);
      const lookup = exec(container, ['node', '-e', 'require("node:dns").lookup("localhost", { all: true }, (e, a) => { if (e) throw e; process.stdout.write(JSON.stringify(a)); })']);
      assert.equal(lookup.status, 0, lookup.stderr);
      assert.match(lookup.stdout, /127\.0\.0\.1/);
      const sh = exec(container, ['/bin/sh', '-c', 'true']);
      assert.notEqual(sh.status, 0);
      assert.match(sh.stderr, /no such file or directory/);
    });
  });

  it('starts the admin sidecar: /healthz answers', { timeout: 180_000 }, async () => {
    await serve('admin', ['MSRP_ADMIN_DATABASE__DATA_DIR=/data/pglite', 'MSRP_ADMIN_HTTP__HOST=127.0.0.1'], 'http://127.0.0.1:8080/healthz', () => {});
  });

  it('rebuilds byte-identical images from scratch (--no-cache: Debian mirror, npm registry)', { timeout: 900_000 }, () => {
    const again = runBuild(join(dir, 'again'), '--no-cache', '--no-archive');
    assert.deepEqual(again.layers.map((l) => l.digest), rec.layers.map((l) => l.digest));
    assert.deepEqual(again.images.map((i) => i.manifestDigest), rec.images.map((i) => i.manifestDigest));
  });
});
