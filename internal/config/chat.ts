// The `chat` section of the engine configuration (EngineConfigSchema.chat): the SIP focus
// and the MSRP switch (internal/chat/focus, internal/chat/switch) read it. It lives here, not
// in internal/chat, so that config imports no feature folder (docs/architecture.md §2.2).
import Type, { type Static } from 'typebox';

const strict = { additionalProperties: false } as const;
const Port = (description: string, def?: number) => Type.Integer({ minimum: 0, maximum: 65535, description, ...(def === undefined ? {} : { default: def }) });

/** The `chat` section of the engine config (to be embedded in EngineConfigSchema). */
export const ChatConfigSchema = Type.Object({
  enabled: Type.Boolean({ default: false, description: 'Run the chat server (SIP focus + MSRP switch, RFC 7701).' }),
  domain: Type.Optional(Type.String({ minLength: 1, description: 'Host part of room URIs (sip:<room>@<domain>). Default: the machine host name.' })),
  publicHost: Type.Optional(Type.String({ minLength: 1, description: 'Host written in SIP Contact/Via, SDP and MSRP session URIs. Default: the SIP bind address, or the host name for a wildcard bind.' })),
  sip: Type.Object({
    host: Type.String({ default: '0.0.0.0', description: 'Address the SIP focus binds.' }),
    udpPort: Type.Optional(Port('SIP over UDP (RFC 3261 §18); 0 = any free port; absent (the default) = off: UDP sources can be spoofed (docs/security.md "UDP amplification").')),
    tcpPort: Type.Optional(Port('SIP over TCP; 0 = any free port; absent = off.', 5060)),
    tlsPort: Type.Optional(Port('SIP over TLS (sips:) with the engine certificate; absent = off.')),
    trustedProxies: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
      description: 'Source addresses of SIP proxies whose P-Asserted-Identity is believed as the sender\'s identity (RFC 3325 trust domain); from anyone else the header is ignored. Default: nobody.',
    })),
    wsPort: Type.Optional(Port('SIP over WebSocket (RFC 7118, `ws:`, subprotocol `sip`), for development; absent = off.')),
    wssPort: Type.Optional(Port('SIP over secure WebSocket (RFC 7118, `wss:`, subprotocol `sip`) with the engine certificate: how browsers reach the focus; absent = off.')),
    wsOrigins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Origins (e.g. `https://chat.example.com`) allowed on the SIP WebSocket ports (403 otherwise); absent or empty: any.' })),
  }, { ...strict, default: {}, description: 'SIP listeners of the focus.' }),
  page: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'Serve the browser chat page (docs/chat.md "The chat page") to plain HTTP requests on the relay\'s `ws`/`wss` listeners, on the origin of its MSRP WebSocket; it reaches the focus on `sip.wsPort`/`sip.wssPort` of the same host. Off, or without such a listener and port: no page.' }),
    room: Type.Optional(Type.String({ minLength: 1, description: 'The room URI the page\'s login form proposes. Default: none.' })),
  }, { ...strict, default: {}, description: 'The browser chat page.' }),
  msrp: Type.Object({
    host: Type.String({ default: '0.0.0.0', description: 'Address the MSRP switch binds.' }),
    port: Port('MSRP port of the switch (participants connect here; a=path of the answer).', 2856),
    transport: Type.Enum(['tcp', 'tls'], { default: 'tls', description: '`tls` gives msrps: session URIs (engine certificate).' }),
    relayInFront: Type.Boolean({ default: false, description: 'Answer devices that connect to us directly (one a=path URI, answer a=setup:passive) with a=path [relay front session, switch]: they connect to the relay\'s listener only, which forwards to this switch (docs/chat.md "Our relay in front of the switch"). Ignored with mesh.enabled. Off: the switch\'s own listener is the path.' }),
  }, { ...strict, default: {}, description: 'MSRP listener of the switch.' }),
  connections: Type.Object({
    max: Type.Integer({ minimum: 0, default: 10000, description: 'Concurrent connections on the SIP TCP/TLS listeners together, and (counted apart) on the MSRP switch listener; counted from accept, before the TLS handshake; one more is closed at once (chat_connections_refused_total). 0 = unlimited.' }),
    perSource: Type.Integer({ minimum: 0, default: 100, description: 'The same per source: an IPv4 address, or an IPv6 /64 (IPv4-mapped addresses count as IPv4). 0 = unlimited.' }),
    tlsHandshakeTimeoutSec: Type.Integer({ minimum: 1, maximum: 120, default: 10, description: 'A SIP or MSRP TLS handshake not finished this long after accept closes the connection.' }),
    sipIdleSec: Type.Integer({ minimum: 1, default: 900, description: 'A SIP TCP/TLS connection with no bytes in or out this long is closed (RFC 5626 CRLF keep-alives count as traffic); the focus opens a new one when it has a request to send.' }),
    msrpIdleSec: Type.Integer({ minimum: 1, default: 60, description: 'A connection to the MSRP switch that carries no participant and has had no traffic this long is closed. Connections with participants may idle as long as they like (RFC 4975 §5.4: the session dies with its connection).' }),
  }, { ...strict, default: {}, description: 'Connection caps and timeouts of the chat listeners (docs/security.md "Connection caps").' }),
  autoCreate: Type.Boolean({ default: false, description: 'An INVITE to an unknown room on our domain creates it with the default policy (else 404).' }),
  factory: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._~-]+$', description: 'User part of the conference factory URI (sip:<factory>@<domain>): an INVITE to it creates an ad-hoc room (RCS group chat; the creator moderates it; written to the store), or rejoins the group of its Conversation-ID / Contribution-ID. Absent: no factory.' })),
  factoryLimits: Type.Object({
    maxRooms: Type.Integer({ minimum: 0, default: 1000, description: 'Ad-hoc rooms (grp-…, made by the factory) that may exist at once; at the cap a factory INVITE that would create one gets 503 with Retry-After (rejoins still work). Rooms stay until deleted (admin API). 0 = unlimited.' }),
    perCreator: Type.Integer({ minimum: 0, default: 10, description: 'Rooms one creator may make through the factory per window: the authenticated user when the focus has Digest realms, else the source address (IPv4, or IPv6 /64); beyond it 486 with Retry-After. 0 = unlimited.' }),
    windowSec: Type.Integer({ minimum: 1, default: 60, description: 'The window of `perCreator`.' }),
  }, { ...strict, default: {}, description: 'Bounds on the conference factory\'s room creation (docs/chat.md "Conference factory", docs/security.md "Conference factory flood").' }),
  media: Type.Object({
    privateAddresses: Type.Enum(['allow', 'deny'], { default: 'allow', description: 'Offers whose a=path first hop is a private/loopback address: `deny` answers 488.' }),
    foreignAddresses: Type.Enum(['allow', 'deny'], { default: 'allow', description: 'Offers whose a=path first hop is not the SIP source address: `deny` answers 488.' }),
    trustedHosts: Type.Array(Type.String(), { default: [], description: 'Relay hosts accepted as a=path first hop whatever the two rules say.' }),
  }, { ...strict, default: {}, description: 'Checks of the MSRP path in offers (RFC 4975 §8.2).' }),
  subscriptions: Type.Object({
    minExpires: Type.Integer({ minimum: 1, default: 60, description: 'Shorter conference subscriptions get 423 (RFC 6665 §4.2.1.1).' }),
    maxExpires: Type.Integer({ minimum: 1, default: 3600, description: 'Longer subscriptions are lowered to this.' }),
  }, { ...strict, default: {}, description: 'Conference event package (RFC 4575).' }),
  rooms: Type.Array(Type.Object({
    name: Type.String({ minLength: 1, description: 'Room name; the local part of its URI unless `uri` is given.' }),
    uri: Type.Optional(Type.String({ description: 'Room URI. Default: sip:<name>@<domain>.' })),
    subject: Type.Optional(Type.String({ description: 'Room subject. Default: none.' })),
    policy: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Room policy (the admin API room policy shape). Default: the default policy.' })),
  }), { default: [], description: 'Rooms from the config, used only when the chat server runs without a store: msrpd and `npm start` always have one and serve the rooms of the admin API (/v1/rooms) instead.' }),
}, { ...strict, default: {}, description: 'Chat rooms: SIP focus and MSRP switch (RFC 7701).' });

export type ChatConfig = Static<typeof ChatConfigSchema>;
