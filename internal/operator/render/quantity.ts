// Kubernetes resource.Quantity -> number, for byte rates in the CRD (`2Mi`, `1.5G`, `1e6`).
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The value of a quantity; throws on malformed input (the CRD pattern rejects it earlier). */
export function parseQuantity(q: number | string): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9.]+)?$/.exec(q.trim());
  if (!m) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (suffix in BINARY) return n * BINARY[suffix]!;
  if (suffix in DECIMAL) return n * DECIMAL[suffix]!;
  return n * 10 ** Number(suffix.slice(1));
}

/** Whole bytes (rounded up: a rate of 0.5 byte/s must not become "unlimited" 0). */
export function quantityToBytes(q: number | string): number {
  const v = parseQuantity(q);
  return v > 0 ? Math.ceil(v) : 0;
}
