// Watching one file mounted from a ConfigMap or a Secret: the engine config, the admin
// bootstrap token. The kubelet updates such a volume by writing a new hidden folder and
// swapping the `..data` symlink atomically, so the file's own inode never changes and a
// watch on it misses the update: the folder is watched (fs.watch) and the file is polled
// too (fs.watch misses events on some volume types), and `onChange` gets the new text only
// when it differs from the last one seen. transport/tls-files.ts watches a Secret folder with
// the same mechanism (watchFolder).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FileWatcherOptions {
  file: string;
  /** Fallback polling period. Default 10 s. */
  pollIntervalMs?: number;
  /** Delay after a change event before reading, so a multi-file update lands first. Default 100 ms. */
  debounceMs?: number;
  onChange(text: string): void;
  onError(err: Error): void;
}

export interface FileWatcher {
  /** Reads the file now; resolves true when its text changed (and onChange ran). */
  check(): Promise<boolean>;
  close(): void;
}

export async function watchFile(o: FileWatcherOptions): Promise<FileWatcher> {
  let last = await readFile(o.file, 'utf8');
  return watchFolder(dirname(o.file), o, async (closed) => {
    const text = await readFile(o.file, 'utf8');
    if (closed() || text === last) return false;
    last = text;
    o.onChange(text);
    return true;
  });
}

export interface FolderWatchOptions {
  /** Fallback polling period. Default 10 s. */
  pollIntervalMs?: number;
  /** Delay after a change event before looking, so a multi-file update lands first. Default 100 ms. */
  debounceMs?: number;
  onError(err: Error): void;
}

/**
 * The mechanism shared by every mounted-volume watcher (this file, transport/tls-files.ts):
 * `look` runs after a debounced fs.watch event on `dir` and on a fallback poll, never twice at
 * once; it resolves true when it found (and handed on) a change. Errors go to onError and
 * the watch goes on.
 */
export function watchFolder(dir: string, o: FolderWatchOptions, look: (closed: () => boolean) => Promise<boolean>): FileWatcher {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  const isClosed = (): boolean => closed;

  const check = (): Promise<boolean> => {
    running ??= (async () => {
      try {
        return await look(isClosed);
      } catch (err) {
        o.onError(err as Error);
        return false;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void check(), o.debounceMs ?? 100);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) => o.onError(err));
  } catch (err) {
    o.onError(err as Error); // polling still covers us
  }
  const poll = setInterval(() => void check(), o.pollIntervalMs ?? 10_000);
  poll.unref();

  return {
    check,
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
