import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MsrpRequestHead } from '../msrp/frame.ts';
import { AcceptedSendResponses, failureDecision } from './report-policy.ts';

function head(method: string, failureReport?: string): MsrpRequestHead {
  return {
    kind: 'request', transactionId: 't1', method, toPath: ['msrps://relay.example.com:2855/s;tcp'], fromPath: ['msrps://alice.example.com:7777/a;tcp'],
    headers: failureReport === undefined ? [] : [{ name: 'Failure-Report', value: failureReport }],
  };
}

describe('relay report policy', () => {
  it('an accepted SEND gets a 200 unless Failure-Report is "no" or "partial" (RFC 4975 §7.1.1, §7.2)', () => {
    const responses = new AcceptedSendResponses();
    assert.equal(responses.respond(head('SEND')), true, 'absent: "yes"');
    assert.equal(responses.respond(head('SEND', 'yes')), true);
    assert.equal(responses.respond(head('SEND', 'no')), false);
    assert.equal(responses.respond(head('SEND', 'partial')), false);
    assert.equal(responses.respond(head('SEND', 'bogus')), true, 'an invalid value counts as "yes"');
    assert.equal(responses.respond(head('SEND', 'no')), false, 'cached answers are the same');
  });

  it('a SEND refused here gets an error response; one failing downstream gets a failure REPORT', () => {
    assert.deepEqual([failureDecision(head('SEND'), 'rejected').sendResponse, failureDecision(head('SEND'), 'rejected').sendFailureReport], [true, false]);
    assert.deepEqual([failureDecision(head('SEND', 'partial'), 'downstream-failed').sendResponse, failureDecision(head('SEND', 'partial'), 'downstream-failed').sendFailureReport], [false, true]);
  });

  it('Failure-Report "no" silences failures, and a REPORT is never answered (RFC 4975 §7.1.2)', () => {
    for (const outcome of ['rejected', 'downstream-failed'] as const) {
      const no = failureDecision(head('SEND', 'no'), outcome);
      assert.equal(no.sendResponse || no.sendFailureReport, false);
      const report = failureDecision(head('REPORT'), outcome);
      assert.equal(report.sendResponse || report.sendFailureReport, false);
    }
  });

  it('a refused non-SEND request always gets a response, never a REPORT', () => {
    const d = failureDecision(head('AUTH', 'no'), 'rejected');
    assert.equal(d.sendResponse, true);
    assert.equal(d.sendFailureReport, false);
  });
});
