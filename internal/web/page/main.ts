// The chat page's entry (bundled by internal/web/bundle.ts, served by page-server.ts): reads
// where the relay and the focus are from config.json, then wires the login form, the composer
// (Enter sends; the "To" choice makes it private), the file picker and the Leave button to a
// ChatRoom (room.ts), and what the room reports to the view (view.ts).
import { shownName, type Participant } from './conference.ts';
import { ChatRoom, type ChatMessage } from './room.ts';
import { ChatView, type TransferView } from './view.ts';

/** What page-server.ts serves as config.json. */
interface PageConfig {
  /** The relay's MSRP URI: the To-Path of AUTH (RFC 4976 §5.1). */
  readonly relayUri: string;
  /** The focus's SIP WebSocket ports, on the page's host; absent when the focus has none. */
  readonly sip: { readonly ws?: number; readonly wss?: number } | undefined;
  /** Host part of our SIP URI (the realm of the chat domain), and the default room. */
  readonly userDomain: string;
  readonly room: string | undefined;
}

const input = (id: string) => document.getElementById(id) as HTMLInputElement;

async function main(): Promise<void> {
  const view = new ChatView();
  const config = await (await fetch('config.json', { cache: 'no-store' })).json() as PageConfig;
  if (config.room !== undefined && input('room').value === '') input('room').value = config.room;
  if (config.sip === undefined) view.status('This server has no SIP WebSocket port for its chat focus: the page cannot join rooms.');
  let room: ChatRoom | undefined;
  let me = { uri: '', nickname: '' };
  let people: Participant[] = [];
  const incoming = new Map<string, TransferView>();
  const nameOf = (uri: string | undefined, fallback?: string): string => {
    const p = people.find((x) => x.uri === uri);
    return p !== undefined ? shownName(p) : (fallback ?? uri ?? '?');
  };
  const isMe = (p: Participant) => p.uri === me.uri || p.nickname === me.nickname;

  const onMessage = (id: string, m: ChatMessage): void => {
    const from = nameOf(m.from?.uri, m.from?.displayName);
    const pending = incoming.get(id);
    incoming.delete(id);
    if (m.file !== undefined) {
      const t = pending ?? view.transfer(id, { from, name: m.file.name, private: m.private, mine: false });
      t.finish({ from, ...m.file });
    } else view.message({ from, text: m.text ?? '', private: m.private });
  };

  document.getElementById('login')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (config.sip === undefined) return;
    const username = input('username').value.trim();
    const nickname = input('nickname').value.trim() || username;
    const roomUri = input('room').value.trim();
    const secure = location.protocol === 'https:';
    const scheme = secure ? 'wss' : 'ws';
    // A page from https: may open wss: only (mixed content); one from http: takes ws: when there is one.
    const sipUrl = secure || config.sip.ws === undefined
      ? (config.sip.wss === undefined ? undefined : `wss://${location.hostname}:${config.sip.wss}/`)
      : `ws://${location.hostname}:${config.sip.ws}/`;
    if (sipUrl === undefined) {
      view.status('The chat focus has no secure SIP WebSocket port (chat.sip.wssPort) for a page served over https.');
      return;
    }
    me = { uri: `sip:${username}@${config.userDomain}`, nickname };
    view.status(`Joining ${roomUri}…`);
    const button = document.querySelector<HTMLButtonElement>('#login button')!;
    button.disabled = true;
    ChatRoom.join({
      msrpUrl: `${scheme}://${location.host}/`, relayUri: config.relayUri,
      sipUrl,
      username, password: input('password').value, me: me.uri, room: roomUri, nickname,
    }, {
      onParticipants: (list) => {
        people = list;
        view.participants(list, isMe);
      },
      onMessage,
      onIncoming: (id, received, total) => {
        let t = incoming.get(id);
        if (t === undefined) {
          t = view.transfer(id, { from: '…', name: '(arriving)', private: false, mine: false });
          incoming.set(id, t);
        }
        t.progress(received, total);
      },
      onClosed: (why) => {
        room = undefined;
        view.showLogin();
        view.status(`Left the room: ${why}`);
      },
    }).then((r) => {
      room = r;
      input('password').value = '';
      view.showChat(roomUri);
      view.status(`In ${roomUri} as ${nickname}`);
    }, (err: Error) => view.status(`Could not join: ${err.message}`)).finally(() => {
      button.disabled = false;
    });
  });

  const recipient = (): Participant | undefined => {
    const uri = (document.getElementById('recipient') as HTMLSelectElement).value;
    return uri === '' ? undefined : people.find((p) => p.uri === uri);
  };

  document.getElementById('composer')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input('message').value;
    if (room === undefined || text.trim() === '') return;
    const to = recipient();
    input('message').value = '';
    room.say(text, to).then(
      () => view.message({ from: me.nickname, text, private: to !== undefined, mine: true, ...(to !== undefined ? { to: shownName(to) } : {}) }),
      (err: Error) => view.notice(`not sent: ${err.message}`),
    );
  });

  input('file').addEventListener('change', () => {
    const file = input('file').files?.[0];
    if (room === undefined || file === undefined) return;
    const to = recipient();
    const t = view.transfer(`out-${Date.now()}`, { from: me.nickname, name: file.name, private: to !== undefined, mine: true });
    const r = room;
    void file.arrayBuffer().then((ab) => r.sendFile(file.name, file.type, Buffer.from(ab), (acked, total) => t.progress(acked, total), to))
      .then(() => t.finish(), (err: Error) => t.fail(err.message))
      .finally(() => {
        input('file').value = '';
      });
  });

  document.getElementById('leave')!.addEventListener('click', () => {
    const r = room;
    room = undefined;
    void r?.leave().then(() => {
      view.showLogin();
      view.status('You left the room.');
    });
  });
}

main().catch((err: Error) => {
  const s = document.getElementById('status');
  if (s !== null) s.textContent = `The page failed to start: ${err.message}`;
});
