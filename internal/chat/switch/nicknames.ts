// Nicknames in a room (RFC 7701 §7): the NICKNAME request carries Use-Nickname with a
// quoted-string; the switch answers
//   200  the nickname is now the participant's;
//   424  "Malformed nickname" (RFC 7701 §7.1, IANA MSRP status registry): not a quoted-string,
//        empty after preparation, too long, control characters;
//   425  "Nickname reserved or already in use" (RFC 7701 §7.1): another participant holds it,
//        the room reserves it, or it is in quarantine after its holder released it;
//   403  our choice when the room's policy disables nicknames: the switch understands
//        NICKNAME (so not 501), but the action is not allowed (RFC 4975 §7.3).
// So 424 is about the form of the name and 425 about its availability; neither means
// "in use" on its own.
//
// Comparison follows the spirit of the PRECIS nickname profile (RFC 8266 §2.2): map
// width and compatibility forms (NFKC), map every space to U+0020, trim and collapse
// spaces, lower-case. "Alice", "ALICE" and "Ａｌｉｃｅ" are the same nickname.

export type NicknameOutcome =
  | { readonly ok: true; readonly nickname: string; readonly previous: string | undefined }
  | { readonly ok: false; readonly status: 424 | 425; readonly reason: string };

export const MAX_NICKNAME_CHARS = 64;

/** RFC 8266-style preparation for comparison; the display form is kept as the holder wrote it. */
export function nicknameKey(nickname: string): string {
  return nickname.normalize('NFKC').replace(/\s+/gu, ' ').trim().toLowerCase();
}

/**
 * RFC 7701 §7.1 Use-Nickname = "Use-Nickname" ":" SP nickname, nickname = quoted-string
 * (RFC 4975 §9 quoted-string with qd-esc). Returns the unquoted display form or an error.
 */
export function parseUseNickname(value: string | undefined): { ok: true; nickname: string } | { ok: false; reason: string } {
  if (value === undefined) return { ok: false, reason: 'no Use-Nickname header' };
  const v = value.trim();
  if (v.length < 2 || !v.startsWith('"') || !v.endsWith('"')) return { ok: false, reason: 'Use-Nickname is not a quoted-string' };
  let out = '';
  for (let i = 1; i < v.length - 1; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const n = v[i + 1];
      if (n !== '\\' && n !== '"') return { ok: false, reason: 'bad escape in Use-Nickname' };
      out += n;
      i++;
    } else if (c === '"') {
      return { ok: false, reason: 'unescaped quote in Use-Nickname' };
    } else {
      out += c;
    }
  }
  if (/[\u0000-\u001f\u007f]/.test(out)) return { ok: false, reason: 'control character in nickname' };
  const key = nicknameKey(out);
  if (key === '') return { ok: false, reason: 'empty nickname' };
  if ([...key].length > MAX_NICKNAME_CHARS) return { ok: false, reason: `nickname longer than ${MAX_NICKNAME_CHARS} characters` };
  return { ok: true, nickname: out.normalize('NFC').trim() };
}

interface Holder {
  readonly owner: string;
  readonly display: string;
}

/** Who holds which nickname in one room, and which released ones are quarantined. */
export class NicknameRegistry {
  readonly #held = new Map<string, Holder>();
  /** Released nickname key → its last owner and when the quarantine ends. */
  readonly #quarantine = new Map<string, { owner: string; until: number }>();
  readonly #byOwner = new Map<string, string>();
  #quarantineMs: number;
  #reserved: Set<string>;
  readonly #now: () => number;

  constructor(o: { quarantineMs: number; reserved: readonly string[]; now?: () => number }) {
    this.#quarantineMs = o.quarantineMs;
    this.#reserved = new Set(o.reserved.map(nicknameKey));
    this.#now = o.now ?? Date.now;
  }

  configure(o: { quarantineMs: number; reserved: readonly string[] }): void {
    this.#quarantineMs = o.quarantineMs;
    this.#reserved = new Set(o.reserved.map(nicknameKey));
  }

  /** The owner (participant key) takes `nickname`, giving up any previous one. */
  claim(owner: string, nickname: string): NicknameOutcome {
    const key = nicknameKey(nickname);
    if (this.#reserved.has(key)) return { ok: false, status: 425, reason: 'nickname reserved by the room' };
    const holder = this.#held.get(key);
    if (holder !== undefined && holder.owner !== owner) return { ok: false, status: 425, reason: 'nickname already in use' };
    const q = this.#quarantine.get(key);
    if (q !== undefined) {
      if (q.until <= this.#now()) this.#quarantine.delete(key);
      else if (q.owner !== owner) return { ok: false, status: 425, reason: 'nickname recently released, reserved for a while' };
    }
    const previousKey = this.#byOwner.get(owner);
    const previous = previousKey === undefined ? undefined : this.#held.get(previousKey)?.display;
    if (previousKey !== undefined && previousKey !== key) this.#release(previousKey, owner);
    this.#quarantine.delete(key);
    this.#held.set(key, { owner, display: nickname });
    this.#byOwner.set(owner, key);
    return { ok: true, nickname, previous };
  }

  /** The owner leaves or drops its nickname; it stays reserved for the owner during the quarantine. */
  release(owner: string): string | undefined {
    const key = this.#byOwner.get(owner);
    if (key === undefined) return undefined;
    const display = this.#held.get(key)?.display;
    this.#release(key, owner);
    return display;
  }

  nicknameOf(owner: string): string | undefined {
    const key = this.#byOwner.get(owner);
    return key === undefined ? undefined : this.#held.get(key)?.display;
  }

  /** The owner holding `nickname` now, if any. */
  ownerOf(nickname: string): string | undefined {
    return this.#held.get(nicknameKey(nickname))?.owner;
  }

  #release(key: string, owner: string): void {
    this.#held.delete(key);
    this.#byOwner.delete(owner);
    if (this.#quarantineMs > 0) this.#quarantine.set(key, { owner, until: this.#now() + this.#quarantineMs });
    // Keep the quarantine table from growing without bound in long-lived rooms.
    if (this.#quarantine.size > 4096) {
      const now = this.#now();
      for (const [k, q] of this.#quarantine) if (q.until <= now) this.#quarantine.delete(k);
    }
  }
}
