// Tests only: the chat server's config for loopback tests (SIP on UDP and TCP and the MSRP
// switch on free ports of 127.0.0.1, rooms from the config, every media address allowed).
import type { ChatConfig } from './server.ts';

export function loopbackChatConfig(o: { rooms: ChatConfig['rooms']; minExpires?: number }): ChatConfig {
  return {
    enabled: true, domain: 'chat.test', publicHost: '127.0.0.1',
    sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
    msrp: { host: '127.0.0.1', port: 0, transport: 'tcp', relayInFront: false },
    autoCreate: false,
    factoryLimits: { maxRooms: 1000, perCreator: 10, windowSec: 60 },
    media: { privateAddresses: 'allow', foreignAddresses: 'allow', trustedHosts: [] },
    subscriptions: { minExpires: o.minExpires ?? 60, maxExpires: 3600 },
    connections: { max: 10000, perSource: 100, tlsHandshakeTimeoutSec: 10, sipIdleSec: 900, msrpIdleSec: 60 },
    page: { enabled: true },
    rooms: o.rooms,
  };
}
