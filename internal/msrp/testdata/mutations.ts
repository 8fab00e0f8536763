// Mutations of valid protocol messages for the parser fuzz tests (internal/msrp/fuzz.test.ts,
// internal/sip/fuzz.test.ts): bit flips, insertions (random bytes or the protocol's own
// delimiters), deletions and truncations, applied to a copy.
import fc from 'fast-check';

export type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; n: number } | { kind: 'truncate'; at: number };

/** One mutation; insertions are random bytes or one of `tokens` (latin1). */
export function mutationOf(tokens: readonly string[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...tokens.map((s) => Buffer.from(s, 'latin1')))) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
}

export function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else b = b.subarray(0, at);
  }
  return b;
}
