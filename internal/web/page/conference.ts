// The room's participants from conference event NOTIFYs (RFC 4575): a full document replaces
// the list, a partial one (§4.6) updates the users it names (state="deleted" removes one).
// A user's nickname is the XCON 'nickname' attribute of <user> (RFC 7701 §7.4, §9.6); its
// display-text is the name otherwise. Parsed with the browser's DOMParser.

const CONFERENCE_NS = 'urn:ietf:params:xml:ns:conference-info';
const XCON_NS = 'urn:ietf:params:xml:ns:xcon-conference-info';

export interface Participant {
  /** The participant's SIP URI (the <user> entity). */
  readonly uri: string;
  readonly nickname: string | undefined;
  readonly displayText: string | undefined;
}

/** The name to show: nickname, else display-text, else the URI. */
export function shownName(p: Participant): string {
  return p.nickname ?? p.displayText ?? p.uri;
}

export class Conference {
  readonly #users = new Map<string, Participant>();
  #version = -1;

  get participants(): Participant[] {
    return [...this.#users.values()].sort((a, b) => shownName(a).localeCompare(shownName(b)));
  }

  /** Applies one NOTIFY body; false when it is no conference-info document or an old version. */
  apply(xml: string): boolean {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    const root = doc.documentElement;
    if (root.localName !== 'conference-info' || root.namespaceURI !== CONFERENCE_NS) return false;
    const version = Number(root.getAttribute('version') ?? 'NaN');
    // RFC 4575 §4.6: a version not above the last one applied is stale (a full state resets).
    const full = root.getAttribute('state') !== 'partial';
    if (!full && Number.isFinite(version) && version <= this.#version) return false;
    if (Number.isFinite(version)) this.#version = version;
    if (full) this.#users.clear();
    for (const u of Array.from(root.getElementsByTagNameNS(CONFERENCE_NS, 'user'))) {
      const uri = u.getAttribute('entity');
      if (uri === null) continue;
      if (u.getAttribute('state') === 'deleted') {
        this.#users.delete(uri);
        continue;
      }
      const before = this.#users.get(uri);
      const text = Array.from(u.children).find((c) => c.localName === 'display-text')?.textContent ?? undefined;
      this.#users.set(uri, {
        uri,
        nickname: u.getAttributeNS(XCON_NS, 'nickname') ?? before?.nickname,
        displayText: text ?? before?.displayText,
      });
    }
    return true;
  }
}
