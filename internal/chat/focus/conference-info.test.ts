// The conference-info document against RFC 7701 §9.6 (Figure 7): nicknames as the XCON
// 'nickname' attribute of <user> (RFC 7701 §7.4, RFC 6501), display-text the user's name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullConferenceInfo, partialConferenceInfo, type ConferenceState } from './conference-info.ts';
import type { ParticipantView } from './chat-port.ts';

const user = (sipUri: string, displayName: string | undefined, nickname: string | undefined): ParticipantView => ({
  sipUri, displayName, nickname, moderator: false, joinedAt: new Date(0), devices: [],
});

// The two users of RFC 7701 §9.6 Figure 7.
const state: ConferenceState = {
  entity: 'sip:chatroom22@chat.example.com', name: 'chatroom22', subject: 'MSRP nickname example',
  participants: [user('sip:bob@example.com', 'Bob Hoskins', 'Dopey Donkey'), user('sip:alice@atlanta.example.com', 'Alice Kay', 'Alice the great')],
};

describe('conference-info nicknames (RFC 7701 §7.4, §9.6)', () => {
  it('writes each nickname as the xcon:nickname attribute of <user>, as in Figure 7', () => {
    const xml = fullConferenceInfo(state, 1);
    assert.match(xml, /<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info" entity="sip:chatroom22@chat.example.com" state="full" version="1">/);
    assert.match(xml, /<user entity="sip:bob@example.com" state="full" xcon:nickname="Dopey Donkey">\n\s*<display-text>Bob Hoskins<\/display-text>/);
    assert.match(xml, /<user entity="sip:alice@atlanta.example.com" state="full" xcon:nickname="Alice the great">\n\s*<display-text>Alice Kay<\/display-text>/);
    assert.match(xml, /<subject>MSRP nickname example<\/subject>/);
    assert.match(xml, /<user-count>2<\/user-count>/);
    assert.doesNotMatch(xml, /<[a-z]+:nickname>/, 'no invented nickname element');
  });

  it('escapes the attribute value and omits it for a user without a nickname', () => {
    const s: ConferenceState = { ...state, participants: [user('sip:q@example.com', undefined, 'a"<b>&c'), user('sip:n@example.com', undefined, undefined)] };
    const xml = partialConferenceInfo(s, { kind: 'user', sipUri: 'sip:q@example.com' }, 7);
    assert.match(xml, /<user entity="sip:q@example.com" state="full" xcon:nickname="a&quot;&lt;b&gt;&amp;c">/);
    assert.match(xml, /<display-text>a&quot;&lt;b&gt;&amp;c<\/display-text>/, 'no display name: the nickname is the display-text');
    const full = fullConferenceInfo(s, 8);
    assert.match(full, /<user entity="sip:n@example.com" state="full">/);
  });
});
