// The browser chat page in a real browser: the engine (relay with a ws: listener that serves
// the page, chat focus with a SIP ws: port, MSRP switch, PGlite store) on loopback; headless
// Chromium (the Debian package, driven by puppeteer-core) opens the page twice, as alice and
// bob, and an `msrp chat` CLI process joins as carol. They exchange messages, bob sends a file
// (its bytes arrive in alice's page and carol's CLI, bob's progress bar reaches 100 %), alice
// whispers to bob, and each page is checked for what it shows: the participants with their
// nicknames, the messages. Screenshots go to test-artifacts/. Under CI=true a missing Chromium
// is a failure.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { runMsrp } from '../client/cli/testrun.ts';
import { loadEngineConfig, type EngineConfig } from '../config/index.ts';
import { startEngine, type RunningEngine } from '../engine/engine.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki } from '../transport/testcerts.ts';

const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env['CI'] === 'true') throw new Error(`Chromium not found at ${CHROMIUM}: .ci/peers.d/50-chromium.sh installs it`);
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const DOMAIN = 'chat.test';
const ROOM = `sip:lobby@${DOMAIN}`;
/** A room whose focus asks for SIP Digest (policy.requireAuth). */
const VIP = `sip:vip@${DOMAIN}`;
const logger = createLogger({ name: 'chat-page-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });

/** The engine as `npm start` runs it, every port ephemeral: the relay's ws: listener serves the page. */
function engineConfig(dir: string, tlsDir: string): EngineConfig {
  const c = loadEngineConfig({
    env: {
      MSRP_RELAY__PUBLIC_HOST: 'localhost',
      MSRP_AUTH__REALMS: JSON.stringify([{ name: DOMAIN, hosts: [] }]),
      // AUTH over the loopback ws: listener (npm start does the same; docs/chat.md).
      MSRP_AUTH__ALLOW_PLAIN_TCP: 'true',
      MSRP_TLS__DIR: tlsDir,
      MSRP_DATABASE__DATA_DIR: join(dir, 'pglite'),
      MSRP_DRAIN__DEADLINE_SEC: '1',
      MSRP_NEXT_HOPS__ALLOW: JSON.stringify([{ host: '127.0.0.1' }]),
      MSRP_NEXT_HOPS__ALLOW_PRIVATE: 'true',
      MSRP_CHAT__ENABLED: 'true',
      MSRP_CHAT__DOMAIN: DOMAIN,
      MSRP_CHAT__PUBLIC_HOST: '127.0.0.1',
      MSRP_CHAT__MSRP__TRANSPORT: 'tcp',
      MSRP_CHAT__PAGE__ROOM: ROOM,
    },
  });
  return {
    ...c,
    relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }, { host: '127.0.0.1', port: 0, transport: 'ws' }] },
    http: { ...c.http, host: '127.0.0.1', port: 0, controlPort: 0 },
    chat: { ...c.chat, sip: { host: '127.0.0.1', udpPort: 0, wsPort: 0 }, msrp: { ...c.chat.msrp, host: '127.0.0.1', port: 0 } },
  };
}

/** Texts of the elements matching `selector` in the page. */
function texts(page: Page, selector: string): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.textContent.replace(/\\s+/g, ' ').trim())`) as Promise<string[]>;
}

/** Waits until some element matching `selector` has text matching `re`. */
async function waitForText(page: Page, selector: string, re: RegExp, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].some((e) => new RegExp(${JSON.stringify(re.source)}).test(e.textContent.replace(/\\s+/g, ' ')))`,
    { timeout, polling: 50 },
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: no ${selector} matching ${re} in ${JSON.stringify(await texts(page, selector))}; status: ${JSON.stringify(await texts(page, '#status'))}`);
  });
}

/** Logs in with the keyboard: fields in tab order, Enter submits; resolves with the status line. */
async function login(page: Page, url: string, user: string, password: string, nickname: string, room = ROOM): Promise<void> {
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(`document.getElementById('room').value === ${JSON.stringify(ROOM)}`, { timeout: 5000 });
  await page.focus('#username');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Tab');
  await page.keyboard.type(nickname);
  if (room !== ROOM) {
    await page.keyboard.press('Tab');
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.type(room);
  }
  await page.keyboard.press('Enter');
}

async function joinRoom(page: Page, url: string, user: string, password: string, nickname: string, room = ROOM): Promise<void> {
  await login(page, url, user, password, nickname, room);
  await waitForText(page, '#status', new RegExp(`In ${room} as ${nickname}`));
}

async function say(page: Page, text: string): Promise<void> {
  await page.focus('#message');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

describe('the chat page in headless Chromium', { skip: present ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`, timeout: 60_000 }, () => {
  let dir: string;
  let engine: RunningEngine;
  let browser: Browser;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-page-'));
    const pki = await testPki();
    engine = await startEngine(engineConfig(dir, pki.server.dir), { logger, metrics: createMetrics({ defaultMetrics: false }) });
    const { store } = engine;
    await store.createRealm(DOMAIN);
    for (const u of ['alice', 'bob', 'carol']) await store.createUser(DOMAIN, u, `${u}-pw`);
    await store.rooms.put('lobby', { uri: ROOM, subject: 'page test', policy: { nicknames: true, privateMessages: true } });
    await store.rooms.put('vip', { uri: VIP, subject: 'members only', policy: { requireAuth: true } });
    const ws = engine.relay.addresses.find((a) => a.websocket)!;
    url = `http://127.0.0.1:${ws.port}/`;
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await engine?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the page, its bundle and its settings from the relay\'s WebSocket port, and nothing else', async () => {
    const html = await fetch(url);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await html.text(), /<script src="chat\.js"><\/script>/);
    const js = await fetch(`${url}chat.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.ok((await js.text()).length > 10_000, 'the bundle holds the protocol code');
    const config = await (await fetch(`${url}config.json`)).json() as { relayUri: string; sip: { ws?: number }; userDomain: string; room: string };
    assert.deepEqual(config, { relayUri: engine.relay.uri, sip: { ws: engine.chat!.focus.wsPort! }, userDomain: DOMAIN, room: ROOM });
    assert.equal((await fetch(`${url}../etc/passwd`)).status, 404);
    assert.equal((await fetch(url, { method: 'POST', body: 'x' })).status, 405);
  });

  it('lets two pages and a CLI participant chat, send a file with a progress bar, and whisper', async () => {
    const failures: string[] = [];
    const open = async (name: string): Promise<Page> => {
      const ctx = await browser.createBrowserContext();
      const page = await ctx.newPage();
      await page.setViewport({ width: 1000, height: 640 });
      page.on('pageerror', (e) => failures.push(`${name}: ${String(e)}`));
      page.on('requestfailed', (r) => failures.push(`${name}: request failed: ${r.url()}`));
      return page;
    };
    const alice = await open('alice');
    const bob = await open('bob');
    await joinRoom(alice, url, 'alice', 'alice-pw', 'Alice');
    await joinRoom(bob, url, 'bob', 'bob-pw', 'Bob');
    for (const page of [alice, bob]) {
      await waitForText(page, '#participants li', /^Alice/);
      await waitForText(page, '#participants li', /^Bob/);
    }

    // carol: the command-line client, straight to the focus (UDP) and the switch (TCP).
    const file = randomBytes(300_000);
    const sha = createHash('sha256').update(file).digest('hex');
    const script = join(dir, 'carol.txt');
    await writeFile(script, [
      'expect:<sip:alice@chat\\.test> hello everyone$',
      'hi from carol',
      `expect:<sip:bob@chat\\.test> \\[file report\\.bin 300000 bytes sha256 ${sha}\\]`,
      'expect:<sip:alice@chat\\.test> bye all$',
    ].join('\n') + '\n');
    const carol = runMsrp(['chat', ROOM, '--focus', `127.0.0.1:${engine.chat!.focus.udpPort!}`, '--user', 'carol', '--from', `sip:carol@${DOMAIN}`, '--nick', 'Carol', '--script', script, '--expect-timeout', '20000']);
    for (const page of [alice, bob]) await waitForText(page, '#participants li', /^Carol/);
    assert.deepEqual(await texts(alice, '#participants li'), ['Alice (you)', 'Bob', 'Carol']);
    assert.deepEqual(await texts(bob, '#participants li'), ['Alice', 'Bob (you)', 'Carol']);

    await say(alice, 'hello everyone');
    await waitForText(bob, '#messages li', /^Alice hello everyone$/);
    await waitForText(alice, '#messages li.mine', /^Alice hello everyone$/);
    await waitForText(alice, '#messages li', /^Carol hi from carol$/);
    await waitForText(bob, '#messages li', /^Carol hi from carol$/);

    // bob sends a file: chunked (64 KiB chunks), his bar reaches 100 %, alice gets the same bytes.
    const path = join(dir, 'report.bin');
    await writeFile(path, file);
    const picker = await bob.$('#file');
    await picker!.uploadFile(path);
    await waitForText(bob, '#messages li.file', /^Bob file report\.bin 100 %$/);
    assert.equal(await bob.$eval('#messages li.file progress', (p) => (p as unknown as { value: number }).value), 100);
    await waitForText(alice, '#messages li.file', /^Bob file report\.bin 100 % save report\.bin \(300000 bytes\)$/);
    const received = await alice.evaluate(`(async () => {
      const a = document.querySelector('#messages li.file a');
      const bytes = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return { name: a.download, length: bytes.length, sha: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
    })()`) as { name: string; length: number; sha: string };
    assert.deepEqual(received, { name: 'report.bin', length: 300_000, sha });

    // alice whispers to bob (RFC 7701 §6.2): only bob sees it, marked private.
    await alice.select('#recipient', `sip:bob@${DOMAIN}`);
    await say(alice, 'psst bob');
    await waitForText(bob, '#messages li.private', /^\[private\] Alice psst bob$/);
    await waitForText(alice, '#messages li.private.mine', /^\[private to Bob\] Alice psst bob$/);
    // The three of them in the room, as each page shows it (docs/images/chat-page.png is bob's).
    await mkdir(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-page-alice.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-page-bob.png') });
    await alice.select('#recipient', '');
    await say(alice, 'bye all');

    const r = await carol;
    assert.equal(r.code, 0, `carol exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /^\* you are Carol$/m);
    assert.doesNotMatch(r.stdout, /psst/, 'the private message reached bob only');
    assert.doesNotMatch(await texts(alice, '#messages li').then((t) => t.join('\n')), /^\[private\] /m);
    // carol left: both pages drop her.
    for (const page of [alice, bob]) await page.waitForFunction(`![...document.querySelectorAll('#participants li')].some((e) => e.textContent.startsWith('Carol'))`, { timeout: 10_000 });

    assert.deepEqual(failures, []);

    // Leave: the page goes back to the login form, and bob sees alice go.
    await alice.click('#leave');
    await waitForText(alice, '#status', /^You left the room\.$/);
    await bob.waitForFunction(`![...document.querySelectorAll('#participants li')].some((e) => e.textContent.startsWith('Alice'))`, { timeout: 10_000 });
  });

  it('answers the focus\'s Digest challenge for a members-only room, and says so when the password is wrong', async () => {
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    await login(page, url, 'bob', 'not-his-password', 'Bob');
    await waitForText(page, '#status', /^Could not join: the relay refused the login \(403\)/);
    assert.equal(await page.$eval('#chat', (e) => (e as unknown as { hidden: boolean }).hidden), true, 'still on the login form');
    // The focus challenges the INVITE and the SUBSCRIBE (requireAuth); the page answers with the
    // same login, so the room knows bob as sip:bob@<realm>.
    await joinRoom(page, url, 'bob', 'bob-pw', 'Bob', VIP);
    await waitForText(page, '#participants li', /^Bob \(you\)$/);
    const room = engine.chat!.switch.room(VIP)!;
    assert.deepEqual(room.participants().map((p) => [p.sipUri, p.nickname]), [[`sip:bob@${DOMAIN}`, 'Bob']]);
    await ctx.close();
  });
});
