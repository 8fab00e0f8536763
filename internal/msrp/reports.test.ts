import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MsrpRequest } from './frame.ts';
import { getHeader } from './frame.ts';
import { parseStatusHeader } from './headers.ts';
import {
  buildReport,
  failureReportOf,
  formatStatusHeader,
  reportPolicy,
  successReportOf,
  type FailureReportValue,
  type Outcome,
  type SuccessReportValue,
} from './reports.ts';

// The SEND as Bob receives it through two relays (RFC 4976 §7.1: each relay put itself
// at the front of From-Path).
const send: MsrpRequest = {
  kind: 'request',
  method: 'SEND',
  transactionId: 'dkei38sd',
  toPath: ['msrps://bob.example.com:8888/9di4eae923wzd;tcp'],
  fromPath: [
    'msrps://relay2.example.net:2855/b7dj;tcp',
    'msrps://relay1.example.com:2855/2v5s;tcp',
    'msrps://alice.example.com:7394/2s93i9ek2a;tcp',
  ],
  headers: [
    { name: 'Message-ID', value: '12339sdqwer' },
    { name: 'Byte-Range', value: '1-16/16' },
    { name: 'Success-Report', value: 'yes' },
    { name: 'Content-Type', value: 'text/plain' },
  ],
  body: [Buffer.from('Hi, I am Alice!!')],
  continuation: '$',
};

describe('buildReport (RFC 4975 §7.1.2)', () => {
  it('builds the success REPORT of a complete message with Status 000 200 OK', () => {
    const r = buildReport(send, { status: 200, byteRange: { start: 1, end: 16, total: 16 }, transactionId: 'dkfjeiu3' });
    assert.ok(r !== null);
    assert.equal(r.method, 'REPORT');
    assert.equal(r.transactionId, 'dkfjeiu3');
    assert.deepEqual(r.headers, [
      { name: 'Message-ID', value: '12339sdqwer' },
      { name: 'Byte-Range', value: '1-16/16' },
      { name: 'Status', value: '000 200 OK' },
    ]);
    assert.deepEqual(r.body, []);
    assert.equal(r.continuation, '$');
  });

  it('routes back along the From-Path as received, nearest hop first, not reversed', () => {
    const r = buildReport(send, { status: 413, byteRange: { start: 1, end: 16, total: 16 } });
    assert.ok(r !== null);
    assert.deepEqual(r.toPath, send.fromPath);
    assert.deepEqual(r.fromPath, ['msrps://bob.example.com:8888/9di4eae923wzd;tcp']);
  });

  it('writes a Status header the header parser reads back', () => {
    const v = formatStatusHeader(408, 'Request\r\nTimeout');
    assert.equal(v, '000 408 Request Timeout');
    const p = parseStatusHeader(v);
    assert.ok(p.ok && p.value.code === 408 && p.value.namespace === 0);
    assert.equal(formatStatusHeader(200, ''), '000 200');
  });

  it('cannot report on a SEND without Message-ID', () => {
    const noId = { ...send, headers: send.headers.filter((h) => h.name !== 'Message-ID') };
    assert.equal(buildReport(noId, { status: 200, byteRange: { start: 1, end: 16, total: 16 } }), null);
  });

  it('uses a fresh transaction id when none is given', () => {
    const r = buildReport(send, { status: 200, byteRange: { start: 1, end: 16, total: 16 } });
    assert.ok(r !== null && r.transactionId !== send.transactionId);
    assert.equal(getHeader(r, 'Message-ID'), '12339sdqwer');
  });
});

describe('Failure-Report and Success-Report values', () => {
  it('default to yes and no when absent (RFC 4975 §7.1.1)', () => {
    assert.equal(failureReportOf({ headers: [] }), 'yes');
    assert.equal(successReportOf({ headers: [] }), 'no');
  });

  it('are read case-insensitively and flag anything else as invalid', () => {
    assert.equal(failureReportOf({ headers: [{ name: 'failure-report', value: 'Partial' }] }), 'partial');
    assert.equal(successReportOf({ headers: [{ name: 'Success-Report', value: 'YES' }] }), 'yes');
    assert.equal(failureReportOf({ headers: [{ name: 'Failure-Report', value: 'maybe' }] }), 'invalid');
  });
});

describe('reportPolicy', () => {
  const decide = (method: string, failureReport: FailureReportValue | undefined, outcome: Outcome, successReport?: SuccessReportValue) => {
    const d = reportPolicy({ method, failureReport, successReport, outcome });
    return [d.sendResponse, d.sendFailureReport, d.sendSuccessReport];
  };

  it('answers every SEND with Failure-Report yes, the default, with a response', () => {
    assert.deepEqual(decide('SEND', undefined, 'accepted'), [true, false, false]);
    assert.deepEqual(decide('SEND', 'yes', 'complete'), [true, false, false]);
    assert.deepEqual(decide('SEND', 'yes', 'rejected'), [true, false, false]);
  });

  it('sends no 200 for Failure-Report partial but still reports failures', () => {
    assert.deepEqual(decide('SEND', 'partial', 'accepted'), [false, false, false]);
    assert.deepEqual(decide('SEND', 'partial', 'rejected'), [true, false, false]);
    assert.deepEqual(decide('SEND', 'partial', 'downstream-failed'), [false, true, false]);
  });

  it('sends neither responses nor failure REPORTs for Failure-Report no', () => {
    for (const o of ['accepted', 'complete', 'rejected', 'downstream-failed'] as const) {
      assert.deepEqual(decide('SEND', 'no', o), [false, false, false]);
    }
  });

  it('reports a delivery failure after the hop already answered with a failure REPORT', () => {
    assert.deepEqual(decide('SEND', 'yes', 'downstream-failed'), [false, true, false]);
  });

  it('sends a success REPORT only for Success-Report yes once the message is complete', () => {
    assert.deepEqual(decide('SEND', 'yes', 'complete', 'yes'), [true, false, true]);
    assert.deepEqual(decide('SEND', 'yes', 'accepted', 'yes'), [true, false, false]);
    assert.deepEqual(decide('SEND', 'no', 'complete', 'yes'), [false, false, true]);
    assert.deepEqual(decide('SEND', 'yes', 'complete', 'no'), [true, false, false]);
  });

  it('never answers or reports on a REPORT', () => {
    for (const o of ['accepted', 'complete', 'rejected', 'downstream-failed'] as const) {
      assert.deepEqual(decide('REPORT', 'yes', o, 'yes'), [false, false, false]);
    }
  });

  it('always answers other methods and never sends REPORTs about them', () => {
    assert.deepEqual(decide('AUTH', 'no', 'rejected'), [true, false, false]);
    assert.deepEqual(decide('NICKNAME', undefined, 'accepted', 'yes'), [true, false, false]);
  });

  it('has a rule for every combination and names the rules it applied', () => {
    for (const method of ['SEND', 'REPORT', 'AUTH'])
      for (const fr of ['yes', 'no', 'partial', undefined] as const)
        for (const sr of ['yes', 'no', undefined] as const)
          for (const o of ['accepted', 'complete', 'rejected', 'downstream-failed'] as const) {
            const d = reportPolicy({ method, failureReport: fr, successReport: sr, outcome: o });
            assert.equal(d.rules.length, 2);
            assert.ok(d.rules.every((r) => r.startsWith('RFC ')));
          }
  });
});
