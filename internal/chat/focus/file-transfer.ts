// File transfer into a room as RFC 5547 offers it (push): a participant INVITEs the room
// with an MSRP stream marked a=sendonly that carries a=file-selector (name, type, size,
// hash) and a=file-transfer-id. The focus answers a=recvonly with the same file-selector and
// file-transfer-id, the switch admits the stream as a file session of that participant
// (room.ts FileUpload), and the file it then sends is passed to the room as a CPIM file
// message, next to the chunked CPIM files clients send inside their chat session today.
//
//   no a=file-selector                          → not a file transfer (the chat join path)
//   a=file-selector, a=sendonly                 → a push: admitted as a file session
//   a=file-selector, a=recvonly                 → a pull: 488 + Warning 399, the room keeps
//                                                  no files to fetch
//   a=file-selector, sendrecv / inactive        → 488 + Warning 399 (RFC 5547 streams go one way)
//   a=file-selector that does not parse         → 488 + Warning 399
//
// The hook in calls.ts: fileTransferOffer() after the offer's checks, its upload in the
// admission request, withFileTransfer() on the answer.
import { parseFileSelector } from '../../sip/file-selector.ts';
import type { MsrpMedia } from '../../sip/sdp-msrp.ts';
import type { SessionDescription } from '../../sip/sdp.ts';
import type { FileUpload } from '../switch/room.ts';

export type FileTransferOffer =
  | { readonly ok: true; readonly upload: FileUpload; readonly selector: string }
  | { readonly ok: false; readonly text: string };

/** Reads an RFC 5547 offer from the admitted MSRP media; undefined when it is no file transfer. */
export function fileTransferOffer(media: MsrpMedia, sdp: SessionDescription): FileTransferOffer | undefined {
  const selector = media.fileSelector;
  if (selector === undefined) return undefined;
  if (media.direction === 'recvonly') return { ok: false, text: 'the room keeps no files to fetch: push a file with a=sendonly (RFC 5547)' };
  if (media.direction !== 'sendonly') return { ok: false, text: `a file transfer stream is sendonly or recvonly, not ${media.direction} (RFC 5547)` };
  const parsed = parseFileSelector(selector);
  if (!parsed.ok) return { ok: false, text: parsed.error.message };
  const m = sdp.media[media.index];
  const transferId = m?.attributes.find((a) => a.name === 'file-transfer-id')?.value?.trim();
  if (transferId === undefined || transferId === '') return { ok: false, text: 'a=file-transfer-id is missing (RFC 5547)' };
  const f = parsed.value;
  return {
    ok: true, selector,
    upload: { transferId, type: f.type ?? 'application/octet-stream', ...(f.name === undefined ? {} : { name: f.name }), ...(f.size === undefined ? {} : { size: f.size }) },
  };
}

/**
 * The chat-room answer made a file-transfer answer: the stream accepts what the file is
 * (a=accept-types: its type, with message/cpim for clients that wrap it), echoes
 * a=file-selector and a=file-transfer-id, and is not a chat room (no a=chatroom). The
 * direction (recvonly) is the chat-room answer's already.
 */
export function withFileTransfer(answer: SessionDescription, index: number, offer: { readonly upload: FileUpload; readonly selector: string }): SessionDescription {
  const media = answer.media.map((m, i) => {
    if (i !== index) return m;
    const attributes = m.attributes
      .filter((a) => a.name !== 'chatroom' && a.name !== 'accept-wrapped-types')
      .map((a) => (a.name === 'accept-types' ? { name: a.name, value: `message/cpim ${offer.upload.type}` } : a));
    attributes.push({ name: 'file-selector', value: offer.selector }, { name: 'file-transfer-id', value: offer.upload.transferId });
    return { ...m, attributes };
  });
  return { ...answer, media };
}
