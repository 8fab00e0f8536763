// The parse-error budget (docs/relay.md, `parseErrorBudget`): a connection may send a few
// malformed frames the parser recovers from (each is answered 400/413 when it can be
// addressed, RFC 4975 §7.2); one more than `count` within `windowSec` closes it. Pure: the
// clock is given, so the budget is tested without sockets or timers.
import type { RelayOptions } from './options.ts';

export class ParseErrorBudget {
  /** Read on every error: the budget is a live option (live-options.ts) and may change meanwhile. */
  readonly #options: Pick<RelayOptions, 'parseErrorBudget'>;
  readonly #now: () => number;
  /** Recent recovered parse errors per connection (timestamps, ms), oldest first. */
  readonly #times = new WeakMap<object, number[]>();

  constructor(options: Pick<RelayOptions, 'parseErrorBudget'>, now: () => number = () => performance.now()) {
    this.#options = options;
    this.#now = now;
  }

  /** Counts one recovered parse error on `conn`; false when that puts it over the budget. */
  spend(conn: object): boolean {
    const budget = this.#options.parseErrorBudget;
    const now = this.#now();
    const since = now - budget.windowSec * 1000;
    let times = this.#times.get(conn);
    if (times === undefined) this.#times.set(conn, (times = []));
    while (times.length > 0 && times[0]! <= since) times.shift();
    times.push(now);
    return times.length <= budget.count;
  }
}
