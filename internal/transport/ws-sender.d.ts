// The part of ws's Sender that websocket.ts uses and @types/ws does not declare: the static
// framing function (ws/lib/sender.js, exported by the package as `Sender`), which turns a
// payload into one WebSocket frame (RFC 6455 §5.2): [header, payload], or [header] when empty.
import 'ws';

declare module 'ws' {
  export interface FrameOptions {
    readonly fin: boolean;
    /** RFC 6455 §5.2: 0x0 continuation, 0x1 text, 0x2 binary. */
    readonly opcode: number;
    readonly mask: boolean;
    /** The payload must not be modified (masking would copy it). */
    readonly readOnly: boolean;
    readonly rsv1: boolean;
  }
  export class Sender {
    static frame(data: Buffer, options: FrameOptions): Buffer[];
  }
}
