// The connection caps and timeouts of the chat server's listeners (docs/security.md
// "Connection caps"), from `chat.connections`: one count for the SIP TCP and TLS listeners
// together, another for the MSRP switch listener, both with the limits the relay uses
// (transport/connection-limits.ts: per source an IPv4 address or an IPv6 /64, counted from
// accept). Each refusal is a metric and a debug log line.
import type { Logger } from 'pino';
import type { ChatConfig } from '../config/chat.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { ConnectionLimits } from '../transport/connection-limits.ts';
import type { ListenerGuard } from '../transport/listeners.ts';

export function chatListenerGuards(c: ChatConfig['connections'], log: Logger, metrics?: Metrics): { sip: ListenerGuard; msrp: ListenerGuard } {
  const refused = metrics?.counter<'listener' | 'reason'>({
    name: 'chat_connections_refused_total',
    help: 'Connections the chat listeners refused at accept (connections, connections-per-source) or closed (handshake-timeout, idle), by listener (sip, msrp).',
    labelNames: ['listener', 'reason'],
  });
  const guard = (listener: 'sip' | 'msrp', idleSec: number): ListenerGuard => ({
    limits: new ConnectionLimits({ max: c.max, perSource: c.perSource }),
    handshakeTimeoutMs: c.tlsHandshakeTimeoutSec * 1000,
    idleMs: idleSec * 1000,
    onRefused(reason, address) {
      refused?.inc({ listener, reason });
      log.debug({ listener, peer: address, reason }, 'chat connection refused or closed by a cap');
    },
  });
  return { sip: guard('sip', c.sipIdleSec), msrp: guard('msrp', c.msrpIdleSec) };
}
