import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFileSelector } from './file-selector.ts';

describe('a=file-selector (RFC 5547)', () => {
  it('reads name, type, size and hash as clients write them', () => {
    const r = parseFileSelector('name:"test.pcap" type:application/octet-stream size:11376 hash:sha-1:8D:55:24:2B:F4:F9:9B:A2:54:A3:5B:91:00:15:9E:A3:D4:48:D7:DF');
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      name: 'test.pcap', type: 'application/octet-stream', size: 11376,
      hash: { algorithm: 'sha-1', value: '8D:55:24:2B:F4:F9:9B:A2:54:A3:5B:91:00:15:9E:A3:D4:48:D7:DF' },
    });
  });

  it('decodes a percent-encoded name with spaces and quotes, and keeps type parameters', () => {
    const r = parseFileSelector('type:text/plain;charset=utf-8 name:"my %22best%22 file.txt"');
    assert.ok(r.ok);
    assert.equal(r.value.name, 'my "best" file.txt');
    assert.equal(r.value.type, 'text/plain;charset=utf-8');
  });

  it('ignores unknown selectors and refuses malformed known ones', () => {
    assert.deepEqual(parseFileSelector('size:3 color:blue').ok && parseFileSelector('size:3 color:blue'), { ok: true, value: { size: 3 } });
    for (const bad of ['size:big', 'name:unquoted', 'name:"open', 'type:image', 'hash:sha-1:XYZ', 'justaword']) {
      assert.equal(parseFileSelector(bad).ok, false, bad);
    }
  });
});
