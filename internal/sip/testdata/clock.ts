// A fake clock for transaction timer tests: timers fire only when the test advances time.
import type { Clock, TimerHandle } from '../timers.ts';

interface Pending {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  #t = 0;
  #seq = 0;
  #pending: Pending[] = [];

  now(): number {
    return this.#t;
  }

  setTimer(ms: number, fire: () => void): TimerHandle {
    const p: Pending = { at: this.#t + ms, seq: this.#seq++, fire, cancelled: false };
    this.#pending.push(p);
    return { cancel: () => { p.cancelled = true; } };
  }

  /** Live timers (not fired, not cancelled). */
  get active(): number {
    return this.#pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers in order (timers set while firing included). */
  advance(ms: number): void {
    const until = this.#t + ms;
    for (;;) {
      const due = this.#pending.filter((p) => !p.cancelled && p.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#t = due.at;
      due.cancelled = true;
      due.fire();
    }
    this.#pending = this.#pending.filter((p) => !p.cancelled);
    this.#t = until;
  }
}
