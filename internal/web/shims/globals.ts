// Injected into browser bundles (bundle.ts): the global Buffer that internal/msrp and
// internal/sip use, as Node has it.
import { Buffer } from 'buffer';

(globalThis as { Buffer?: unknown }).Buffer ??= Buffer;
