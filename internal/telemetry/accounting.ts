// Accounting (docs/relay.md "Accounting"): one record per relay session and per chat
// participation when it ends. The relay and the chat switch count on the objects they already
// keep per session (no allocation per frame) and hand the finished record to a sink; the
// engine's sink logs it and writes it to the database (internal/engine/accounting.ts).

export type AccountingKind = 'relay-session' | 'chat-participation';

export interface AccountingRecord {
  kind: AccountingKind;
  /** The relay session id (Use-Path) or the chat participant id (the switch's session id). */
  sessionId: string;
  realm: string;
  username: string;
  /** Remote address:port of the connection the session was used from ('' when it never connected). */
  source: string;
  /** The chat room URI; undefined for relay sessions. */
  room?: string | undefined;
  startedAt: Date;
  endedAt: Date;
  /** Body bytes received from the user's side and delivered to it. */
  bytesIn: number;
  bytesOut: number;
  /** Complete SEND messages (last chunk, `$`) each way. */
  messagesIn: number;
  messagesOut: number;
  /** expired, closed, deleted, replaced (relay); sip, connection-lost, moderator, ... (chat). */
  closeReason: string;
}

export interface AccountingSink {
  record(r: AccountingRecord): void;
}

/** User and domain of a SIP URI (`sip:alice@example.com;x` → alice, example.com); empty when absent. */
export function sipUserAndDomain(uri: string): { username: string; realm: string } {
  const m = /^sips?:(?:([^@;?>]*)@)?([^;?>:]*)/i.exec(uri.trim().replace(/^<|>$/g, ''));
  return { username: m?.[1] ?? '', realm: (m?.[2] ?? '').toLowerCase() };
}
