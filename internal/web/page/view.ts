// What the page shows: the participant list, the message log (an aria-live region: screen
// readers announce new messages) and file transfers with progress bars. Text from the network
// goes in with textContent only, never as markup.
import { shownName, type Participant } from './conference.ts';

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className !== undefined) e.className = className;
  return e;
}

/** A file transfer in the log: its progress bar, then a link to the bytes. */
export interface TransferView {
  progress(done: number, total: number | undefined): void;
  /** The whole file arrived (or left): a download link for received ones. */
  finish(file?: { from: string; name: string; type: string; bytes: Uint8Array }): void;
  fail(why: string): void;
}

export class ChatView {
  readonly #messages = byId<HTMLOListElement>('messages');
  readonly #participants = byId<HTMLUListElement>('participants');
  readonly #recipient = byId<HTMLSelectElement>('recipient');
  readonly #status = byId<HTMLParagraphElement>('status');
  readonly #count = byId<HTMLSpanElement>('participant-count');

  status(text: string): void {
    this.#status.textContent = text;
  }

  showChat(roomUri: string): void {
    byId('login').hidden = true;
    byId('chat').hidden = false;
    byId('room-title').textContent = roomUri;
    byId<HTMLInputElement>('message').focus();
  }

  showLogin(): void {
    byId('chat').hidden = true;
    byId('login').hidden = false;
    this.#messages.replaceChildren();
    this.#participants.replaceChildren();
  }

  /** The list, and the private-message choices (everyone, then each other participant). */
  participants(list: Participant[], isMe: (p: Participant) => boolean): void {
    this.#count.textContent = String(list.length);
    this.#participants.replaceChildren(...list.map((p) => {
      const li = el('li');
      li.dataset['uri'] = p.uri;
      li.append(el('span', shownName(p), 'nick'));
      if (p.nickname !== undefined && p.displayText !== undefined && p.displayText !== p.nickname) li.append(el('span', ` (${p.displayText})`, 'display'));
      if (isMe(p)) li.append(el('span', ' (you)', 'you'));
      return li;
    }));
    const chosen = this.#recipient.value;
    const others = list.filter((p) => !isMe(p));
    this.#recipient.replaceChildren(el('option', 'everyone'), ...others.map((p) => {
      const o = el('option', shownName(p));
      o.value = p.uri;
      return o;
    }));
    this.#recipient.options[0]!.value = '';
    this.#recipient.value = others.some((p) => p.uri === chosen) ? chosen : '';
  }

  /** One line of the log: "<from> text", marked when private. */
  message(o: { from: string; text: string; private: boolean; mine?: boolean; to?: string }): HTMLLIElement {
    const li = el('li', undefined, `message${o.private ? ' private' : ''}${o.mine === true ? ' mine' : ''}`);
    if (o.private) li.append(el('span', o.mine === true && o.to !== undefined ? `[private to ${o.to}] ` : '[private] ', 'tag'));
    li.append(el('span', o.from, 'from'), el('span', ' '), el('span', o.text, 'text'));
    this.#messages.append(li);
    li.scrollIntoView({ block: 'end' });
    return li;
  }

  notice(text: string): void {
    this.#messages.append(el('li', text, 'notice'));
  }

  /** A transfer line with a labelled progress bar (id lets the test and the receiver find it). */
  transfer(id: string, o: { from: string; name: string; private: boolean; mine: boolean }): TransferView {
    const li = this.message({ from: o.from, text: `file ${o.name}`, private: o.private, mine: o.mine });
    li.classList.add('file');
    li.dataset['transfer'] = id;
    const bar = el('progress');
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute('aria-label', `${o.mine ? 'sending' : 'receiving'} ${o.name}`);
    const pct = el('span', ' 0 %', 'percent');
    li.append(' ', bar, pct);
    const set = (p: number) => {
      bar.value = p;
      pct.textContent = ` ${p} %`;
    };
    return {
      progress: (done, total) => set(total === undefined || total === 0 ? 0 : Math.floor((done * 100) / total)),
      finish: (file) => {
        set(100);
        if (file === undefined) return;
        // A received file is named only once it is whole (its CPIM head is in the first chunk,
        // but parsed with the rest).
        li.querySelector('.from')!.textContent = file.from;
        li.querySelector('.text')!.textContent = `file ${file.name}`;
        bar.setAttribute('aria-label', `received ${file.name}`);
        const a = el('a', `save ${file.name} (${file.bytes.length} bytes)`);
        // Whatever type the sender declared, the bytes are offered for download only: a blob:
        // URL has this page's origin, and opened as, say, text/html it would run as the page.
        const blob = new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
        a.href = URL.createObjectURL(blob);
        a.download = file.name;
        li.append(' ', a);
      },
      fail: (why) => {
        li.classList.add('failed');
        li.append(el('span', ` failed: ${why}`, 'error'));
      },
    };
  }
}
