import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { childLogger, createLogger, formatPrettyLine, REDACTED, resolveLogLevel, TelemetryError } from './logger.ts';

function collector(): { stream: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines with the name, a string level and structured fields', () => {
    const out = collector();
    const log = createLogger({ name: 'msrpd', level: 'info', destination: out.stream, env: {} });
    log.info({ bytes: 42 }, 'hello');
    const [line] = out.lines();
    assert.equal(line?.['name'], 'msrpd');
    assert.equal(line?.['level'], 'info');
    assert.equal(line?.['msg'], 'hello');
    assert.equal(line?.['bytes'], 42);
  });

  it('redacts authorization, password and token fields at several depths', () => {
    const out = collector();
    const log = createLogger({ name: 't', level: 'info', destination: out.stream, env: {} });
    log.info({ password: 'p1', token: 't1', headers: { authorization: 'Digest response="x"' }, req: { body: { password: 'p2' } } }, 'secrets');
    const raw = out.raw();
    for (const secret of ['p1', 't1', 'Digest response', 'p2']) assert.ok(!raw.includes(secret), `${secret} leaked: ${raw}`);
    const [line] = out.lines();
    assert.equal(line?.['password'], REDACTED);
    assert.deepEqual(line?.['headers'], { authorization: REDACTED });
  });

  it('binds conn, session, peer, room and realm on child loggers', () => {
    const out = collector();
    const log = createLogger({ name: 't', level: 'debug', destination: out.stream, env: {} });
    const child = childLogger(log, { conn: 'c1', session: 's1', peer: '10.0.0.1:5000', room: 'r', realm: 'example.com' });
    child.debug('frame');
    const [line] = out.lines();
    assert.deepEqual(
      [line?.['conn'], line?.['session'], line?.['peer'], line?.['room'], line?.['realm']],
      ['c1', 's1', '10.0.0.1:5000', 'r', 'example.com'],
    );
  });

  it('drops lines below the configured level', () => {
    const out = collector();
    const log = createLogger({ name: 't', level: 'warn', destination: out.stream, env: {} });
    log.info('quiet');
    log.warn('loud');
    assert.deepEqual(out.lines().map((l) => l['msg']), ['loud']);
  });

  it('formats a pretty line with time, level, name, message and fields', () => {
    const line = formatPrettyLine(JSON.stringify({ time: '2026-01-02T03:04:05.678Z', level: 'warn', name: 'msrpd', msg: 'slow peer', pid: 1, peer: 'a' }));
    assert.equal(line, '03:04:05.678 WARN  msrpd: slow peer peer=a');
  });

  it('writes redacted human lines when pretty is set', async () => {
    const out = collector();
    const log = createLogger({ name: 'msrpd', level: 'info', pretty: true, destination: out.stream, env: {} });
    log.info({ password: 'hunter2', room: 'lobby' }, 'joined');
    await new Promise((r) => setImmediate(r));
    assert.match(out.raw(), /INFO {2}msrpd: joined password=\[redacted\] room=lobby/);
    assert.ok(!out.raw().includes('hunter2'));
  });
});

describe('resolveLogLevel', () => {
  it('prefers the explicit level, then LOG_LEVEL, then info', () => {
    assert.equal(resolveLogLevel('debug', { LOG_LEVEL: 'error' }), 'debug');
    assert.equal(resolveLogLevel(undefined, { LOG_LEVEL: 'ERROR' }), 'error');
    assert.equal(resolveLogLevel(undefined, {}), 'info');
  });

  it('rejects an unknown level with the invalid-level code', () => {
    assert.throws(() => resolveLogLevel(undefined, { LOG_LEVEL: 'verbose' }), (e: unknown) => e instanceof TelemetryError && e.code === 'invalid-level' && /verbose/.test(e.message));
  });
});
