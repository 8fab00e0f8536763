// Test harness: runs MsrpParser over bytes with chosen split points and records what it
// emits as plain values that node:assert can compare (bodies concatenated).

import { MsrpParser } from '../parser.ts';
import type { MsrpParserOptions } from '../parser.ts';
import type { MsrpParseError } from '../errors.ts';
import type { Continuation, MsrpFrame, MsrpHead, MsrpRequest, MsrpResponse } from '../frame.ts';

/** A frame with its body slices concatenated (distributes over request/response). */
export type FlatFrame = (Omit<MsrpRequest, 'body'> | Omit<MsrpResponse, 'body'>) & { body: Buffer };

export type ParseEvent =
  | { type: 'frame'; frame: FlatFrame }
  | { type: 'head'; head: MsrpHead }
  | { type: 'body'; data: Buffer }
  | { type: 'end'; continuation: Continuation }
  | { type: 'error'; error: MsrpParseError };

export function flatten(frame: MsrpFrame): FlatFrame {
  return { ...frame, body: Buffer.concat(frame.body) };
}

export interface Run {
  readonly events: ParseEvent[];
  readonly frames: FlatFrame[];
  readonly errors: MsrpParseError[];
  readonly parser: MsrpParser;
  /** Largest bufferedBytes seen after any push. */
  readonly maxBuffered: number;
  /** push() return values that were false. */
  readonly refused: number;
}

/** Creates a parser that records events; body segments are merged so that splits do not matter. */
export function recorder(options: MsrpParserOptions = {}, streaming = true): { parser: MsrpParser; events: ParseEvent[] } {
  const events: ParseEvent[] = [];
  const parser = new MsrpParser(
    {
      onFrame: (frame) => events.push({ type: 'frame', frame: flatten(frame) }),
      onError: (error) => events.push({ type: 'error', error }),
      ...(streaming
        ? {
            onHead: (head: MsrpHead) => events.push({ type: 'head', head }),
            onBody: (data: Buffer) => {
              const last = events[events.length - 1];
              if (last?.type === 'body') last.data = Buffer.concat([last.data, data]);
              else events.push({ type: 'body', data: Buffer.from(data) });
            },
            onEnd: (continuation: Continuation) => events.push({ type: 'end', continuation }),
          }
        : {}),
    },
    options,
  );
  return { parser, events };
}

/** Parses `input` cut at the given sorted offsets (empty = one push); calls end() when `eof`. */
export function parse(input: string | Buffer, cuts: readonly number[] = [], options: MsrpParserOptions = {}, eof = true, streaming = true): Run {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const { parser, events } = recorder(options, streaming);
  let maxBuffered = 0;
  let refused = 0;
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= prev) continue;
    if (!parser.push(bytes.subarray(prev, cut))) refused++;
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    prev = cut;
  }
  if (eof) parser.end();
  return {
    events,
    frames: events.flatMap((e) => (e.type === 'frame' ? [e.frame] : [])),
    errors: events.flatMap((e) => (e.type === 'error' ? [e.error] : [])),
    parser,
    maxBuffered,
    refused,
  };
}

/** Every offset: the one-byte-at-a-time split. */
export function everyByte(length: number): number[] {
  return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
}
