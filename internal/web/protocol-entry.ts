// Browser entry of the protocol bundle: the pure MSRP and SIP code (internal/msrp,
// internal/sip, docs/architecture.md §2.2) exposed as `globalThis.msrpWeb` for the chat page
// and for the real-browser test that checks it runs there unchanged.
import { MsrpParser } from '../msrp/parser.ts';
import type { MsrpFrame } from '../msrp/frame.ts';
import { serializeToBuffer } from '../msrp/serializer.ts';
import { newTransactionId } from '../msrp/transaction.ts';
import { formatCpim, parseCpim } from '../msrp/cpim.ts';
import { parseDatagram } from '../sip/parser.ts';
import { serialize as serializeSip } from '../sip/serializer.ts';
import { parseSdp } from '../sip/sdp.ts';
import { findMsrpMedia } from '../sip/sdp-msrp.ts';

/** Parses whole MSRP frames from one WebSocket message (RFC 7977 §4.2: one frame per message). */
function parseMsrp(bytes: Uint8Array): MsrpFrame[] {
  const frames: MsrpFrame[] = [];
  const errors: string[] = [];
  const parser = new MsrpParser({ onFrame: (f) => frames.push(f), onError: (e) => errors.push(String(e.code)) });
  parser.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (errors.length > 0) throw new Error(`MSRP parse error: ${errors.join(', ')}`);
  return frames;
}

export const msrpWeb = { Buffer, parseMsrp, serializeMsrp: serializeToBuffer, newTransactionId, formatCpim, parseCpim, parseSip: parseDatagram, serializeSip, parseSdp, findMsrpMedia };

(globalThis as { msrpWeb?: typeof msrpWeb }).msrpWeb = msrpWeb;
