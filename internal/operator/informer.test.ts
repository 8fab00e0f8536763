import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { ResilientInformer } from './informer.ts';
import { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import { eventually } from '../testwait.ts';

/**
 * A scripted stand-in for the API server's list and watch of ConfigMaps: each request
 * takes the next step of the script. Plain HTTP on loopback.
 */
type Step = 'fail' | 'list' | 'watch-hang' | 'watch-event';
function fakeApi(script: Step[]) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const watch = (req.url ?? '').includes('watch=true');
    const step = script.shift() ?? (watch ? 'watch-hang' : 'list');
    seen.push(`${watch ? 'watch' : 'list'}:${step}`);
    if (step === 'fail') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","message":"etcd unavailable"}');
      return;
    }
    if (step === 'list') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [{ metadata: { name: 'a', namespace: 'n', resourceVersion: '10' } }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    if (step === 'watch-event') {
      res.write(JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'b', namespace: 'n', resourceVersion: '11' } } }) + '\n');
    }
    // Then silence, never ending: a hung watch.
  });
  return { server, seen };
}

describe('ResilientInformer', () => {
  let api: ReturnType<typeof fakeApi>;
  let client: KubeClient;
  let kc: KubeConfig;
  const script: Step[] = [];

  before(async () => {
    api = fakeApi(script);
    await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
    const { port } = api.server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    client = new KubeClient(kc);
  });

  after(async () => {
    api.server.closeAllConnections();
    await new Promise<void>((r) => api.server.close(() => r()));
    await client.close();
  });

  it('retries a failed first list with backoff until the cache is synced, and keeps watching', async () => {
    script.splice(0, script.length, 'fail', 'fail', 'list', 'watch-event');
    api.seen.length = 0;
    const restarts: string[] = [];
    const inf = new ResilientInformer<KubeObject>({
      kubeConfig: kc, client, type: RESOURCES.configMap, logger: pino({ level: 'silent' }),
      baseBackoffMs: 20, maxBackoffMs: 100, staleAfterMs: 60_000, onRestart: (r) => restarts.push(r),
    });
    const added: string[] = [];
    inf.on('add', (o) => added.push(o.metadata?.name ?? ''));
    await inf.start();
    assert.equal(inf.hasSynced, true);
    assert.deepEqual(restarts, ['error', 'error']);
    assert.equal(inf.get('a', 'n')?.kind, 'ConfigMap', 'list items get their kind');
    await eventually(() => added.includes('b'), 'the watch event for b');
    assert.deepEqual(added, ['a', 'b']);
    await inf.stop();
  });

  it('restarts a watch that has been silent for too long', async () => {
    script.splice(0, script.length, 'list', 'watch-hang', 'watch-hang');
    api.seen.length = 0;
    const restarts: string[] = [];
    const inf = new ResilientInformer<KubeObject>({
      kubeConfig: kc, client, type: RESOURCES.configMap, logger: pino({ level: 'silent' }),
      staleAfterMs: 200, onRestart: (r) => restarts.push(r),
    });
    await inf.start();
    await eventually(() => restarts.includes('stale'), 'a stale-watch restart');
    await eventually(() => api.seen.filter((s) => s.startsWith('watch')).length >= 2, 'the second watch request');
    assert.deepEqual(api.seen.slice(0, 3), ['list:list', 'watch:watch-hang', 'watch:watch-hang'], 're-watched from the last resourceVersion');
    await inf.stop();
  });
});
