// End to end: the real `msrp` CLI processes through a real relay over TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPki } from '../internal/transport/testcerts.ts';
import { startTestRelay, type TestRelay } from '../internal/relay/testrelay.ts';

const CLI = join(import.meta.dirname, 'msrp.ts');

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  const r: Run = { child, stdout: '', stderr: '', exited: new Promise((res) => child.once('exit', (code) => res(code))) };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
  return r;
}

async function firstLine(r: Run, prefix: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(prefix));
    if (line !== undefined) return line.slice(prefix.length).trim();
    if (Date.now() > deadline || r.child.exitCode !== null) throw new Error(`no "${prefix}" line; stderr:\n${r.stderr}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('msrp listen + msrp send through relays over TLS', () => {
  const relays: TestRelay[] = [];
  let dir: string;
  let ca: string;
  before(async () => {
    const pki = await testPki();
    relays.push(await startTestRelay(), await startTestRelay({}, pki.peer));
    dir = await mkdtemp(join(tmpdir(), 'msrp-cli-'));
    ca = join(pki.server.dir, 'ca.crt');
    await writeFile(join(dir, 'bob.pw'), 'bob-pw\n');
  });
  after(async () => {
    for (const r of relays) await r.relay.stop();
  });
  const relayArg = (i: number): string => `msrps://127.0.0.1:${relays[i]!.port}`;

  it('transfers a multi-chunk file byte for byte through one relay', async () => {
    const src = join(dir, 'payload.bin');
    const body = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(src, body);
    const out = join(dir, 'in');
    const listen = run(['listen', '--relay', relayArg(0), '--user', 'bob', '--password-file', join(dir, 'bob.pw'), '--ca', ca, '--out', out, '--count', '1']);
    const path = await firstLine(listen, 'path:');
    assert.match(path, /^msrps:\/\/127\.0\.0\.1:\d+\/\S+;tcp msrps:\/\/\S+;tcp$/);
    const send = run(['send', '--relay', relayArg(0), '--user', 'alice', '--ca', ca, '--to', path, '--file', src, '--chunk-size', '512KiB'], { MSRP_PASSWORD: 'alice-pw' });
    assert.equal(await send.exited, 0, send.stderr);
    assert.equal(await listen.exited, 0, listen.stderr);
    assert.match(send.stdout, new RegExp(`^delivered payload\\.bin: ${body.length} bytes in [\\d.]+ s \\([\\d.]+ MB/s\\)`));
    assert.match(listen.stdout, /^file: .*payload\.bin \d+ sha256=[0-9a-f]{64} verified$/m);
    assert.ok((await readFile(join(out, 'payload.bin'))).equals(body));
    assert.match(send.stderr, /sending payload\.bin .*100%/, 'progress lines on a non-TTY stderr');
  });

  it('sends a text from a client of one relay to a client of another', async () => {
    const listen = run(['listen', '--relay', relayArg(1), '--user', 'bob', '--password', 'bob-pw', '--ca', ca, '--count', '1', '--out', dir]);
    const path = await firstLine(listen, 'path:');
    const send = run(['send', '--relay', relayArg(0), '--user', 'alice', '--ca', ca, '--to', path, '--text', 'hello across two relays'], { MSRP_PASSWORD: 'alice-pw' });
    assert.equal(await send.exited, 0, send.stderr);
    assert.equal(await listen.exited, 0, listen.stderr);
    assert.equal(listen.stdout.split('\n')[1], 'hello across two relays');
  });

  it('says why AUTH failed and exits 1 on a wrong password', async () => {
    const listen = run(['listen', '--relay', relayArg(0), '--user', 'bob', '--password', 'nope', '--ca', ca]);
    assert.equal(await listen.exited, 1);
    assert.match(listen.stderr, /AUTH .* failed: 403/);
  });

  it('exits 1 with a hint when the relay certificate is not trusted', async () => {
    const listen = run(['listen', '--relay', relayArg(0), '--user', 'bob', '--password', 'bob-pw']);
    assert.equal(await listen.exited, 1);
    assert.match(listen.stderr, /--insecure/);
  });

  it('exits 2 on usage errors and prints help for each command', async () => {
    const bad = run(['send', '--relay', relayArg(0), '--user', 'a', '--to', 'msrps://x:1/a;tcp']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr, /exactly one of --text and --file/);
    for (const cmd of ['listen', 'send']) {
      const h = run([cmd, '--help']);
      assert.equal(await h.exited, 0);
      assert.match(h.stdout, new RegExp(`^Usage: msrp ${cmd} `));
    }
  });
});
