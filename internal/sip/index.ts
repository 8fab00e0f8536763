// Public surface of internal/sip: pure protocol (messages, URIs, SDP, transactions,
// dialogs, the UAS core), no I/O (docs/architecture.md §2.2). The sockets are in
// internal/transport/sip.ts.
export * from './errors.ts';
export * from './message.ts';
export { canonicalName, compactName, isListHeader, splitList, parseParams, formatParams, COMPACT_FORMS, type Params } from './headers.ts';
export * from './fields.ts';
export { parseDatagram, SipStreamFramer, type SipFramerCallbacks, type SipParserOptions } from './parser.ts';
export { validateMessage } from './parser-head.ts';
export * from './serializer.ts';
export * from './uri.ts';
export * from './sdp.ts';
export * from './sdp-msrp.ts';
export * from './timers.ts';
export { TransactionLayer, newBranch, serverKey, clientKey, type TransactionLayerOptions } from './transactions.ts';
export * from './server-transactions.ts';
export * from './client-transactions.ts';
export * from './dialogs.ts';
export * from './responses.ts';
export * from './routing.ts';
export * from './digest.ts';
export * from './ua.ts';
