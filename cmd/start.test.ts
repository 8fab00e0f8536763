// `npm start` as a user runs it: a child process with its own data folder and free ports,
// the quick start on stdout, AUTH as the printed demo user over TLS with the generated CA,
// two `msrp chat` participants talking in the demo room through the SIP focus and the
// switch, a clean exit on SIGTERM, and the same credentials after a restart (persistence).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient, usePathOf } from '../internal/relay/testclient.ts';

const START = new URL('./start.ts', import.meta.url).pathname;
const MSRP = new URL('./msrp.ts', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Started {
  child: ChildProcess;
  stdout: string;
  users: Map<string, string>;
  token: string;
}

interface Ports { relay: number; http: number; control: number; admin: number; sip: number; chat: number; page: number; sipWs: number }

function start(dataDir: string, ports: Ports): Promise<Started> {
  const child = spawn(process.execPath, [START], {
    cwd: dataDir,
    env: {
      PATH: process.env['PATH'],
      MSRP_DATA_DIR: join(dataDir, 'data'),
      MSRP_RELAY__LISTEN__0__PORT: String(ports.relay),
      MSRP_RELAY__LISTEN__1__PORT: String(ports.page),
      MSRP_CHAT__SIP__WS_PORT: String(ports.sipWs),
      MSRP_HTTP__PORT: String(ports.http),
      MSRP_HTTP__CONTROL_PORT: String(ports.control),
      MSRP_ADMIN_HTTP__PORT: String(ports.admin),
      // A free TCP port for SIP over UDP too: it is almost always free on UDP as well.
      MSRP_CHAT__SIP__UDP_PORT: String(ports.sip),
      MSRP_CHAT__SIP__TCP_PORT: String(ports.sip),
      MSRP_CHAT__MSRP__PORT: String(ports.chat),
      MSRP_LOG__LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no quick start within 90 s; stderr:\n${stderr}`)), 90_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}; stderr:\n${stderr}`));
    });
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (!stdout.includes('Ctrl-C stops the relay')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const users = new Map([...stdout.matchAll(/^ {2}user +(\w+) \/ (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
      const token = /bootstrap token: (\S+)/.exec(stdout)?.[1] ?? '';
      resolve({ child, stdout, users, token });
    });
  });
}

/** `msrp chat` as printed in the quick start (argv after `node cmd/msrp.ts`), with a --script. */
function chat(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MSRP, ...args], { cwd, env: { PATH: process.env['PATH'] }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('npm start (cmd/start.ts)', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'msrp-start-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start, with a message, when a plain listener is moved off loopback without --plain-tcp (AUTH without TLS is allowed only on loopback)', async () => {
    const child = spawn(process.execPath, [START], {
      cwd: dir,
      env: {
        PATH: process.env['PATH'],
        MSRP_DATA_DIR: join(dir, 'exposed'),
        MSRP_RELAY__LISTEN__0__PORT: String(await freePort()),
        MSRP_RELAY__LISTEN__1__HOST: '0.0.0.0',
        MSRP_RELAY__LISTEN__1__PORT: String(await freePort()),
        MSRP_LOG__LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Started: the refusal did not happen; stop it so the assertion below reports that.
      if (out.includes('MSRP relay is running')) child.kill('SIGTERM');
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 1, `stdout:\n${out}\nstderr:\n${err}`);
    assert.match(err, /ws:\/\/0\.0\.0\.0:\d+ .*--plain-tcp/);
  });

  it('starts on an empty data folder, lets alice authenticate over TLS, lets alice and bob chat in the demo room, stops cleanly on SIGTERM, and keeps her credentials and the room history', async () => {
    const ports = { relay: await freePort(), http: await freePort(), control: await freePort(), admin: await freePort(), sip: await freePort(), chat: await freePort(), page: await freePort(), sipWs: await freePort() };
    const first = await start(dir, ports);
    children.push(first.child);
    assert.match(first.stdout, new RegExp(`relay URI +msrps://localhost:${ports.relay};tcp`));
    // The browser chat page (internal/web/chat-page.test.ts drives it in Chromium): served on the
    // relay's loopback ws: listener, pointing at the focus's SIP WebSocket port and the demo room.
    assert.match(first.stdout, new RegExp(`chat page +http://127\\.0\\.0\\.1:${ports.page}/ `));
    const pageConfig = await (await fetch(`http://127.0.0.1:${ports.page}/config.json`)).json() as { sip: unknown; room: string; userDomain: string };
    assert.deepEqual(pageConfig.sip, { ws: ports.sipWs });
    assert.equal(pageConfig.room, 'sip:lobby@localhost');
    assert.equal(pageConfig.userDomain, 'localhost');
    assert.match(first.stdout, /cmd\/msrp\.ts listen --relay msrps:\/\/localhost:\d+ --user bob --password=[A-Za-z0-9]{16} --ca data\/tls\/ca\.crt/);
    assert.match(first.stdout, /cmd\/msrp\.ts send .*--to "<path printed by listen>" --file/);
    const password = first.users.get('alice');
    assert.ok(password !== undefined && first.users.has('bob'), first.stdout);

    // cert-manager layout, private files private.
    const data = join(dir, 'data');
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) statSync(join(data, 'tls', f));
    assert.equal(statSync(join(data, 'tls', 'tls.key')).mode & 0o077, 0);
    assert.equal(statSync(join(data, 'demo-credentials.json')).mode & 0o077, 0);

    const ca = readFileSync(join(data, 'tls', 'ca.crt'), 'utf8');
    const client = await TestClient.connect({ port: ports.relay, ca });
    const relayUri = `msrps://localhost:${ports.relay};tcp`;
    const ok = await client.auth(relayUri, 'alice', password);
    assert.equal(ok.status, 200);
    assert.match(usePathOf(ok), new RegExp(`^msrps://localhost:${ports.relay}/\\S+;tcp$`));
    const wrong = await client.auth(relayUri, 'alice', password, { wrongPassword: true });
    assert.equal(wrong.status, 403);

    // The admin API answers with the printed bootstrap token, when it is part of this tree.
    if (first.stdout.includes('bootstrap token:')) {
      const res = await fetch(`http://127.0.0.1:${ports.admin}/v1/realms`, { headers: { authorization: `Bearer ${first.token}` } });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /"localhost"/);
    }
    const metrics = await fetch(`http://127.0.0.1:${ports.http}/metrics`);
    assert.match(await metrics.text(), /msrp_relay_auth_total\{result="ok"\} 1/);

    // The demo room: the quick start's chat lines, run with scripts. The focus answers the
    // INVITE for sip:lobby@localhost (created in the store at first start), the switch
    // welcomes, and messages go between alice (SIP over UDP) and bob (SIP over TCP). Bob
    // gets alice's message live or, when he joins after she sent it, from the room history.
    assert.match(first.stdout, new RegExp(`chat +sip:lobby@localhost +\\(SIP focus 127\\.0\\.0\\.1:${ports.sip} UDP\\+TCP, MSRP switch msrps://127\\.0\\.0\\.1:${ports.chat}\\)`));
    const printed = [...first.stdout.matchAll(/^ {2}terminal \d: {2}\S+ \S+msrp\.ts (chat .*)$/gm)].map((m) => m[1]!.split(' '));
    assert.deepEqual(printed.map((a) => a[a.indexOf('--nick') + 1]), ['alice', 'bob', 'carol'], first.stdout);
    // Through the relay: each participant authenticates with its demo account, and the
    // relay (allowed to reach only the switch) carries the MSRP session.
    assert.deepEqual(printed[0], ['chat', 'sip:lobby@localhost', '--focus', `127.0.0.1:${ports.sip}`, '--relay', `msrps://localhost:${ports.relay}`,
      '--user', 'alice', `--password=${first.users.get('alice')!}`, '--ca', 'data/tls/ca.crt', '--from', 'sip:alice@localhost', '--nick', 'alice']);
    writeFileSync(join(dir, 'alice.txt'), 'hello from alice\nexpect:^<sip:bob@localhost> hi alice$\nwait:200\n');
    writeFileSync(join(dir, 'bob.txt'), 'expect:^<sip:alice@localhost> hello from alice$\nhi alice\nwait:500\n');
    const script = (who: string) => ['--script', `${who}.txt`, '--expect-timeout', '10000'];
    const alice = chat(dir, [...printed[0], ...script('alice')]);
    await new Promise((r) => setTimeout(r, 300));
    const bob = chat(dir, [...printed[1]!, '--transport', 'tcp', ...script('bob')]);
    const [a, b] = await Promise.all([alice, bob]);
    assert.equal(a.code, 0, `alice:\n${a.out}`);
    assert.equal(b.code, 0, `bob:\n${b.out}`);
    assert.match(a.out, /^\* you are alice$/m);
    assert.match(b.out, /^\[private\] <room> Welcome to the lobby\./m);

    assert.equal(await stop(first.child), 0);
    await client.closed;

    const second = await start(dir, ports);
    children.push(second.child);
    assert.deepEqual(second.users, first.users);
    assert.equal(second.token, first.token);
    const again = await TestClient.connect({ port: ports.relay, ca });
    assert.equal((await again.auth(relayUri, 'bob', second.users.get('bob')!)).status, 200);
    again.close();
    // The room's history is in the store: carol, joining after the restart, gets it replayed.
    writeFileSync(join(dir, 'carol.txt'), 'expect:^<sip:alice@localhost> hello from alice$\nexpect:^<sip:bob@localhost> hi alice$\n');
    const carol = await chat(dir, [...printed[2]!, ...script('carol')]);
    assert.equal(carol.code, 0, `carol:\n${carol.out}`);
    assert.equal(await stop(second.child), 0);
  });
});
