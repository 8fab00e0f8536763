import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesUriPattern, sipUriProblem, uriPatternProblem } from './room-uris.ts';

describe('room URIs and allow/deny patterns', () => {
  it('accepts SIP URIs with a user part, ports, IP literals and parameters', () => {
    for (const uri of ['sip:lobby@example.com', 'sips:lobby@chat.example.com:5061', 'sip:room.1@192.0.2.10', 'sip:r@[2001:db8::1]:5060', 'sip:r@example.com;transport=tcp']) {
      assert.equal(sipUriProblem(uri), undefined, uri);
    }
  });

  it('says why a URI is refused', () => {
    assert.match(sipUriProblem('tel:+15551234')!, /must start with sip: or sips:/);
    assert.match(sipUriProblem('sip:@example.com')!, /needs a user part/);
    assert.match(sipUriProblem('sip:a@b@example.com')!, /user part "a@b"/);
    assert.match(sipUriProblem('sip:a@example..com')!, /host label ""/);
    assert.match(sipUriProblem('sip:a@example.com?subject=x')!, /headers/);
    assert.match(sipUriProblem('sip:a@example.com;=x')!, /parameter/);
  });

  it('accepts glob patterns and refuses malformed ones with a reason', () => {
    for (const p of ['sip:*@example.com', 'sips:alice@*.example.org', 'sip:*@*', 'sip:bob-*@example.com']) assert.equal(uriPatternProblem(p), undefined, p);
    assert.match(uriPatternProblem('*')!, /must start with sip: or sips:/);
    assert.match(uriPatternProblem('sip:*@example.com;transport=tls')!, /parameters/);
    assert.match(uriPatternProblem("sip:*'@example.com")!, /user part/);
  });

  it('matches * as any run of characters, case-insensitively, and nothing else as special', () => {
    assert.ok(matchesUriPattern('sip:*@example.com', 'sip:Alice@EXAMPLE.com'));
    assert.ok(!matchesUriPattern('sip:*@example.com', 'sip:alice@evil-example.com'));
    assert.ok(matchesUriPattern('sips:alice@*.example.org', 'sips:alice@a.b.example.org'));
    assert.ok(!matchesUriPattern('sip:a.b@example.com', 'sip:aXb@example.com'));
  });
});
