import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileNameOf } from './file-name.ts';

describe('the name of a received file (Content-Disposition, RFC 6266)', () => {
  it('takes filename, quoted or not, and filename* in UTF-8, keeping only the last path segment', () => {
    assert.equal(fileNameOf('attachment; filename="report.pdf"'), 'report.pdf');
    assert.equal(fileNameOf('attachment; filename=a.txt'), 'a.txt');
    assert.equal(fileNameOf("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"), 'résumé.txt');
    assert.equal(fileNameOf('attachment; filename="../../etc\\\\passwd"'), 'passwd');
    assert.equal(fileNameOf('attachment'), undefined);
    assert.equal(fileNameOf(undefined), undefined);
  });

  it('gives no name, rather than throwing, for a filename* whose percent-encoding is broken', () => {
    assert.equal(fileNameOf("attachment; filename*=UTF-8''%E0%A4%A"), undefined);
    assert.equal(fileNameOf("attachment; filename*=UTF-8''%ZZ.txt"), undefined);
  });
});
