// Framing of a byte stream into MSRP frames and back, for connections: a thin seam over
// internal/msrp's parser and serializer so the connection code does not depend on
// their option names.
import type { Continuation, MsrpFrame, MsrpHead } from '../msrp/frame.ts';
import type { MsrpParseError } from '../msrp/errors.ts';
import { MsrpParser, type FrameWire } from '../msrp/parser.ts';

export interface FrameReaderLimits {
  maxHeaderBytes: number;
  /** Bodies up to this size arrive whole (onFrame); larger ones are streamed. */
  streamThreshold: number;
}

export interface FrameSink {
  /** `wire`: where the frame's bytes are, during this call only (MsrpParser#wire). */
  onFrame(frame: MsrpFrame, wire?: FrameWire): void;
  onHead(head: MsrpHead): void;
  onBody(segment: Buffer): void;
  onEnd(continuation: Continuation): void;
  onError(error: MsrpParseError): void;
}

export interface FrameReader {
  push(chunk: Buffer): boolean;
  readonly bufferedBytes: number;
  /** Between frames with nothing held: a new reader would carry on exactly where this one is. */
  readonly idle: boolean;
}

export function createFrameReader(limits: FrameReaderLimits, sink: FrameSink): FrameReader {
  // The sink goes to the parser as is (it calls the methods on it): no wrapper closures per connection.
  return new MsrpParser(
    sink,
    // The non-SEND body limit (RFC 4975 §7.1, 413) is the relay's to enforce: it routes the
    // head first and answers (or, for REPORT, drops) the request with its own metrics.
    { maxHeaderBytes: limits.maxHeaderBytes, maxNonSendBody: Number.MAX_SAFE_INTEGER, maxBufferedBody: limits.streamThreshold },
  );
}

export { serializeHead as encodeHead, endLine as encodeEndLine, toBuffers } from '../msrp/serializer.ts';
