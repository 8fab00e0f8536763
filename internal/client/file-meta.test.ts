import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileHeaders, isFileMessage, parseContentDigest, parseDisposition, safeFileName } from './file-meta.ts';
import { addRange } from './receiver.ts';

describe('file description headers', () => {
  const sha = 'ab'.repeat(32);

  it('round-trips name, size and SHA-256 through Content-Disposition and Content-Digest', () => {
    const [cd, dg] = fileHeaders({ name: 'report "final".pdf', size: 1234, sha256: sha });
    assert.equal(cd!.name, 'Content-Disposition');
    assert.equal(dg!.value, `sha-256=:${Buffer.from(sha, 'hex').toString('base64')}:`);
    assert.deepEqual(parseDisposition(cd!.value), { type: 'attachment', filename: 'report "final".pdf', size: 1234 });
    assert.equal(parseContentDigest(dg!.value), sha);
  });

  it('carries a non-ASCII name in filename* (RFC 6266 §4.3) with an ASCII fallback', () => {
    const [cd] = fileHeaders({ name: 'café ☕.txt', size: 1, sha256: sha });
    assert.match(cd!.value, /filename="caf_ _\.txt"; filename\*=UTF-8''caf%C3%A9%20%E2%98%95\.txt/);
    assert.equal(parseDisposition(cd!.value)?.filename, 'café ☕.txt');
  });

  it('makes a peer-chosen name safe to create', () => {
    assert.equal(safeFileName('../../etc/passwd', 'x'), 'passwd');
    assert.equal(safeFileName('..\\..\\win.ini', 'x'), 'win.ini');
    assert.equal(safeFileName('.bashrc', 'x'), 'bashrc');
    assert.equal(safeFileName('..', 'fallback'), 'fallback');
    assert.equal(safeFileName(undefined, 'fallback'), 'fallback');
    assert.equal(safeFileName('a\u0000b\nc', 'x'), 'a_b_c');
  });

  it('treats attachments and non-text types as files, text and CPIM as messages', () => {
    assert.equal(isFileMessage([{ name: 'Content-Type', value: 'text/plain' }]), false);
    assert.equal(isFileMessage([{ name: 'Content-Type', value: 'message/cpim' }]), false);
    assert.equal(isFileMessage([{ name: 'Content-Type', value: 'image/png' }]), true);
    assert.equal(isFileMessage([{ name: 'Content-Disposition', value: 'attachment; filename="a.txt"' }, { name: 'Content-Type', value: 'text/plain' }]), true);
  });

  it('ignores a Content-Digest without a well-formed sha-256 member', () => {
    assert.equal(parseContentDigest('sha-512=:AAAA:'), undefined);
    assert.equal(parseContentDigest('sha-256=:AAAA:'), undefined);
  });
});

describe('received byte ranges', () => {
  it('merges overlapping and adjacent ranges and keeps gaps', () => {
    let r: [number, number][] = [];
    r = addRange(r, 10, 20);
    r = addRange(r, 30, 40);
    assert.deepEqual(r, [[10, 20], [30, 40]]);
    r = addRange(r, 0, 10);
    assert.deepEqual(r, [[0, 20], [30, 40]]);
    r = addRange(r, 15, 35);
    assert.deepEqual(r, [[0, 40]]);
    r = addRange(r, 5, 5);
    assert.deepEqual(r, [[0, 40]]);
  });
});
