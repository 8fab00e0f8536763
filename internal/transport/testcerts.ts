// Test-only X.509 material. Node has no certificate generator, so this drives the
// `openssl` CLI (Debian: /usr/bin/openssl) once per test process and caches the result
// in a temp folder. Every certificate directory uses the cert-manager / kubernetes.io/tls
// layout the engine reads in production: `tls.crt`, `tls.key`, `ca.crt`.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertDir {
  /** Directory holding tls.crt, tls.key and ca.crt. */
  dir: string;
  cert: string;
  key: string;
}

export interface TestPki {
  root: string;
  caPem: string;
  /** A server certificate for localhost, 127.0.0.1 and ::1 (serverAuth + clientAuth, for mutual relay TLS). */
  server: TestCertDir;
  /** A second certificate for the same names, signed by the same CA: used to test rotation. */
  serverRotated: TestCertDir;
  /** Another relay's certificate (same names and CA). */
  peer: TestCertDir;
  /** A certificate from a different, untrusted CA. */
  untrusted: TestCertDir;
  /** Signed by the test CA, but only for `elsewhere.test` (not localhost or 127.0.0.1): a valid peer claiming another host. */
  wrongHost: TestCertDir;
  /** Signed by the test CA for localhost, 127.0.0.1 and `relay.msrp.test` (a relay found through DNS, testdns.ts). */
  named: TestCertDir;
  /** The mesh between replicas: its own CA, names 127.0.1.0-7 (replica k at 127.0.1.k) and `*.mesh.test`. */
  mesh: TestCertDir;
  /** The mesh's names, but signed by the relay CA (test-ca), not the mesh CA: must be refused on a mesh port. */
  meshWrongCa: TestCertDir;
  /** Signed by the mesh CA for `elsewhere.test` only: a trusted chain that names no replica. */
  meshWrongName: TestCertDir;
}

/** Replica k of a test relay listens for the mesh on 127.0.1.k (all of 127/8 is loopback on Linux). */
export const MESH_SAN = [...Array.from({ length: 8 }, (_, k) => `IP:127.0.1.${k}`), 'DNS:*.mesh.test'].join(',');

/** The names of most test certificates. */
const LOOPBACK_SAN = 'DNS:localhost,IP:127.0.0.1,IP:::1';

let cached: Promise<TestPki> | undefined;

/** The PKI for this test process; generated on first use. */
export function testPki(): Promise<TestPki> {
  cached ??= generate();
  return cached;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

async function makeCa(root: string, name: string): Promise<{ key: string; cert: string }> {
  const key = join(root, `${name}.key`);
  const cert = join(root, `${name}.crt`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], root);
  await openssl(['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert], root);
  return { key, cert };
}

async function makeLeaf(root: string, name: string, ca: { key: string; cert: string }, caPem: string, san = LOOPBACK_SAN): Promise<TestCertDir> {
  const dir = join(root, name);
  await mkdir(dir);
  const key = join(dir, 'tls.key');
  const csr = join(root, `${name}.csr`);
  const ext = join(root, `${name}.ext`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], root);
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], root);
  await writeFile(ext, [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${san}`,
  ].join('\n'));
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key,
    // A random serial per leaf: -CAcreateserial shares one .srl file, which parallel signing corrupts.
    '-set_serial', '0x' + randomBytes(16).toString('hex'), '-days', '2', '-sha256',
    '-extfile', ext, '-out', join(dir, 'tls.crt')], root);
  await writeFile(join(dir, 'ca.crt'), caPem);
  return { dir, cert: await readFile(join(dir, 'tls.crt'), 'utf8'), key: await readFile(key, 'utf8') };
}

async function generate(): Promise<TestPki> {
  const root = await mkdtemp(join(tmpdir(), 'msrp-testpki-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const ca = await makeCa(root, 'test-ca');
  const caPem = await readFile(ca.cert, 'utf8');
  const other = await makeCa(root, 'other-ca');
  const otherPem = await readFile(other.cert, 'utf8');
  const meshCa = await makeCa(root, 'mesh-ca');
  const meshCaPem = await readFile(meshCa.cert, 'utf8');
  const [server, serverRotated, peer, untrusted, wrongHost, named, mesh, meshWrongCa, meshWrongName] = await Promise.all([
    makeLeaf(root, 'server', ca, caPem),
    makeLeaf(root, 'server-rotated', ca, caPem),
    makeLeaf(root, 'peer', ca, caPem),
    makeLeaf(root, 'untrusted', other, otherPem),
    makeLeaf(root, 'wrong-host', ca, caPem, 'DNS:elsewhere.test'),
    makeLeaf(root, 'named', ca, caPem, `${LOOPBACK_SAN},DNS:relay.msrp.test`),
    makeLeaf(root, 'mesh', meshCa, meshCaPem, MESH_SAN),
    makeLeaf(root, 'mesh-wrong-ca', ca, meshCaPem, MESH_SAN),
    makeLeaf(root, 'mesh-wrong-name', meshCa, meshCaPem, 'DNS:elsewhere.test'),
  ]);
  return { root, caPem, server, serverRotated, peer, untrusted, wrongHost, named, mesh, meshWrongCa, meshWrongName };
}

/**
 * A directory laid out like a mounted Kubernetes Secret volume: the visible files are
 * symlinks through `..data`, which points at a timestamped folder; an update writes a new
 * folder and swaps `..data` atomically (rename of a symlink).
 */
export async function secretVolume(from: TestCertDir): Promise<{ dir: string; swap(to: TestCertDir): Promise<void> }> {
  const { symlink, rename } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'msrp-secretvol-'));
  let n = 0;
  const stage = async (src: TestCertDir): Promise<string> => {
    const name = `..2026_${++n}`;
    await mkdir(join(dir, name));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await copyFile(join(src.dir, f), join(dir, name, f));
    return name;
  };
  const first = await stage(from);
  await symlink(first, join(dir, '..data'));
  for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(join('..data', f), join(dir, f));
  return {
    dir,
    async swap(to) {
      const next = await stage(to);
      await symlink(next, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    },
  };
}
