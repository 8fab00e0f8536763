// ChatRoom (msrp.dev/v1alpha1): one RFC 7701 chat room served by an MsrpRelay. The operator
// pushes it to the relay's admin API and removes it through a finalizer.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { AGE_COLUMN, cel, Conditions, LocalObjectReference, ObjectMeta, ObservedGeneration, READY_COLUMN } from './common.ts';
import type { KindDefinition } from './common.ts';

/** sip:/sips: URI with a user part, as CEL (RE2) sees it. */
const SIP_URI_CEL = "^sips?:[^@[:space:]]+@[^@[:space:]]+$";

function SipUri(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 512,
    description,
    ...cel({
      rule: `self.matches('${SIP_URI_CEL}')`,
      message: 'must be a sip: or sips: URI such as sips:lobby@chat.example.com',
    }),
  });
}

/** A URI pattern in allow/deny lists: a sip:/sips: URI in which `*` matches any run of characters. */
const UriPattern = Type.String({
  minLength: 1,
  maxLength: 512,
  ...cel({
    rule: "self.matches('^sips?:[^[:space:]]+$')",
    message: 'must be a sip: or sips: URI pattern such as sip:*@example.com',
  }),
});

const History = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    size: Type.Integer({ minimum: 0, maximum: 10000, default: 50, description: 'Messages replayed to joiners.' }),
  },
  { default: {} },
);

const Policy = Type.Object(
  {
    nicknames: Type.Boolean({ default: true, description: 'Participants may reserve nicknames (RFC 7701 §7).' }),
    privateMessages: Type.Boolean({ default: true, description: 'Participants may send private messages (RFC 7701 §6).' }),
    maxParticipants: Type.Integer({ minimum: 1, maximum: 100000, default: 100 }),
    history: History,
    allow: Type.Optional(
      Type.Array(UriPattern, { maxItems: 256, description: 'Only these URIs may join; anyone when empty.' }),
    ),
    deny: Type.Optional(Type.Array(UriPattern, { maxItems: 256, description: 'These URIs may not join (wins over allow).' })),
    moderators: Type.Optional(
      Type.Array(SipUri('A moderator URI.'), {
        maxItems: 64,
        'x-kubernetes-list-type': 'set',
        description: 'Participants who may remove others and change the subject.',
      }),
    ),
    welcome: Type.Optional(Type.String({ maxLength: 4096, description: 'Message sent to each participant who joins.' })),
    requireAuth: Type.Boolean({
      default: false,
      description: 'Joins and roster subscriptions must authenticate with SIP Digest against the relay\'s realms and users; participants, allow/deny lists and moderators then match sip:<user>@<realm>. Moderator actions need an authenticated identity in every room.',
    }),
  },
  { default: {} },
);

export const ChatRoomSpec = Type.Object(
  {
    relayRef: Type.Object(LocalObjectReference.properties, {
      description: 'The MsrpRelay in the same namespace that serves the room.',
      ...cel({ rule: 'self == oldSelf', message: 'relayRef is immutable; create a new ChatRoom on the other relay' }),
    }),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$',
        description: 'Local part of the room URI (sips:<name>@<relay chat domain>); metadata.name when unset.',
      }),
    ),
    uri: Type.Optional(SipUri('Full room URI, when the local part and domain are not the defaults.')),
    subject: Type.Optional(Type.String({ maxLength: 1024 })),
    policy: Policy,
  },
  {
    description: 'Desired state of the room.',
    ...cel({ rule: '!(has(self.name) && has(self.uri))', message: 'set at most one of spec.name and spec.uri' }),
  },
);
export type ChatRoomSpec = Static<typeof ChatRoomSpec>;

export const ChatRoomStatus = Type.Object(
  {
    conditions: Type.Optional(Conditions()),
    observedGeneration: Type.Optional(ObservedGeneration()),
    uri: Type.Optional(Type.String({ description: 'The room URI participants join.' })),
    participants: Type.Optional(Type.Integer({ minimum: 0, description: 'Participants currently in the room.' })),
  },
  { description: 'Observed state of the room.' },
);
export type ChatRoomStatus = Static<typeof ChatRoomStatus>;

export const ChatRoom = Type.Object({
  apiVersion: Type.Literal('msrp.dev/v1alpha1'),
  kind: Type.Literal('ChatRoom'),
  metadata: ObjectMeta,
  spec: ChatRoomSpec,
  status: Type.Optional(ChatRoomStatus),
});
export type ChatRoom = Static<typeof ChatRoom>;

export const chatRoomKind: KindDefinition = {
  kind: 'ChatRoom',
  listKind: 'ChatRoomList',
  plural: 'chatrooms',
  singular: 'chatroom',
  shortNames: ['room'],
  categories: ['msrp'],
  description: 'ChatRoom is an MSRP chat room (RFC 7701) served by an MsrpRelay.',
  spec: ChatRoomSpec,
  status: ChatRoomStatus,
  printerColumns: [
    { name: 'Relay', type: 'string', jsonPath: '.spec.relayRef.name', description: 'Serving MsrpRelay.' },
    { name: 'URI', type: 'string', jsonPath: '.status.uri', description: 'Room URI.' },
    { name: 'Participants', type: 'integer', jsonPath: '.status.participants' },
    READY_COLUMN,
    AGE_COLUMN,
  ],
};
