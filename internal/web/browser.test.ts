// The protocol bundle (bundle.ts) in a real browser: headless Chromium (the Debian package,
// CHROMIUM_BIN, installed by .ci/peers.d/50-chromium.sh) driven over the DevTools Protocol by
// puppeteer-core loads it from a local HTTP server (no CDN) and runs the project's own MSRP,
// CPIM, SIP and SDP code in the page. Under CI=true a missing Chromium is a failure.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser } from 'puppeteer-core';
import { bundleWeb } from './bundle.ts';

const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env['CI'] === 'true') throw new Error(`Chromium not found at ${CHROMIUM}: .ci/peers.d/50-chromium.sh installs it`);
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');

describe('the protocol bundle in headless Chromium', { skip: present ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`, timeout: 60_000 }, () => {
  let server: Server;
  let browser: Browser;
  let base: string;
  before(async () => {
    const js = await bundleWeb('protocol-entry.ts');
    server = createServer((req, res) => {
      if (req.url === '/protocol.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(js);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
        .end('<!doctype html><html lang="en"><title>msrp protocol</title><main><h1 id="status">loading</h1></main><script src="/protocol.js"></script>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  it('parses and serializes MSRP frames, CPIM, SIP and SDP in the page with internal/msrp and internal/sip', async () => {
    const page = await browser.newPage();
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(String(e)));
    page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()}`));
    await page.goto(base + '/', { waitUntil: 'load' });
    const result = await page.evaluate(() => {
      const w = (globalThis as unknown as { msrpWeb: Record<string, (...a: unknown[]) => unknown> & { Buffer: { from(s: string): Uint8Array } } }).msrpWeb;
      const B = w.Buffer;
      const tid = w.newTransactionId!() as string;
      const cpim = w.formatCpim!({ from: { uri: 'sip:alice@example.test' }, to: [{ uri: 'sip:lobby@chat.test' }], dateTime: new Date(0), contentType: 'text/plain;charset=utf-8', content: 'héllo ✓' }) as Uint8Array;
      const frame = {
        kind: 'request', method: 'SEND', transactionId: tid, toPath: ['msrps://relay.test:2855/abc;tcp', 'msrp://127.0.0.1:2856/xyz;tcp'],
        fromPath: ['msrps://a1b2.invalid:2855/s1;ws'], continuation: '$',
        headers: [{ name: 'Message-ID', value: 'm1' }, { name: 'Byte-Range', value: `1-${cpim.length}/${cpim.length}` }, { name: 'Content-Type', value: 'message/cpim' }],
        body: [cpim],
      };
      const wire = w.serializeMsrp!(frame) as Uint8Array;
      const [back] = w.parseMsrp!(wire) as { method: string; transactionId: string; fromPath: string[]; body: Uint8Array[] }[];
      const parsedCpim = w.parseCpim!(back!.body[0]) as { ok: boolean; message: { content: Uint8Array } };
      const sdp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=message 9 TCP/TLS/MSRP *', 'a=accept-types:message/cpim', 'a=path:msrps://relay.test:2855/abc;tcp msrps://a1b2.invalid:2855/s1;ws', 'a=setup:active', ''].join('\r\n');
      const invite = `INVITE sip:lobby@chat.test SIP/2.0\r\nVia: SIP/2.0/WSS a1b2.invalid;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=1\r\nTo: <sip:lobby@chat.test>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@a1b2.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`;
      const sip = w.parseSip!(B.from(invite)) as { ok: boolean; value: { method: string; body: Uint8Array } };
      const desc = w.parseSdp!(sip.value.body) as { ok: boolean; value: unknown };
      const media = w.findMsrpMedia!(desc.value) as { ok: boolean; value: { path: string[] } };
      const again = w.parseSip!(w.serializeSip!(sip.value)) as { ok: boolean; value: { method: string } };
      const doc = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } } }).document;
      doc.getElementById('status').textContent = `MSRP ${back!.method} ${back!.transactionId} · SIP ${again.value.method} · path ${media.value.path.length} hops`;
      return {
        tid, method: back!.method, sameTid: back!.transactionId === tid, fromPath: back!.fromPath,
        cpimOk: parsedCpim.ok, text: new TextDecoder().decode(parsedCpim.message.content),
        sipOk: sip.ok, sipMethod: sip.value.method, path: media.value.path, reparsed: again.ok && again.value.method,
      };
    });
    assert.deepEqual(failures, []);
    assert.match(result.tid, /^[A-Za-z0-9]{8,}$/, 'transaction ids come from crypto.getRandomValues in the page');
    assert.equal(result.method, 'SEND');
    assert.ok(result.sameTid);
    assert.deepEqual(result.fromPath, ['msrps://a1b2.invalid:2855/s1;ws']);
    assert.ok(result.cpimOk);
    assert.equal(result.text, 'héllo ✓');
    assert.ok(result.sipOk);
    assert.equal(result.sipMethod, 'INVITE');
    assert.deepEqual(result.path, ['msrps://relay.test:2855/abc;tcp', 'msrps://a1b2.invalid:2855/s1;ws']);
    assert.equal(result.reparsed, 'INVITE');
    const status = await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } } }).document.getElementById('status').textContent ?? '');
    assert.match(status, /^MSRP SEND \S+ · SIP INVITE · path 2 hops$/);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'protocol-bundle.png') });
    await page.close();
  });
});
