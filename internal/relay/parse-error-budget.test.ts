import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseErrorBudget } from './parse-error-budget.ts';

function budgetWith(count: number, windowSec: number): { budget: ParseErrorBudget; clock: { t: number }; options: { parseErrorBudget: { count: number; windowSec: number } } } {
  const clock = { t: 1000 };
  const options = { parseErrorBudget: { count, windowSec } };
  return { budget: new ParseErrorBudget(options, () => clock.t), clock, options };
}

describe('ParseErrorBudget', () => {
  it('allows `count` errors within the window and refuses the next one', () => {
    const { budget } = budgetWith(3, 60);
    const conn = {};
    assert.equal(budget.spend(conn), true);
    assert.equal(budget.spend(conn), true);
    assert.equal(budget.spend(conn), true);
    assert.equal(budget.spend(conn), false);
  });

  it('forgets errors older than the window', () => {
    const { budget, clock } = budgetWith(2, 10);
    const conn = {};
    assert.equal(budget.spend(conn), true);
    clock.t += 5000;
    assert.equal(budget.spend(conn), true);
    clock.t += 5000; // the first error is exactly windowSec old: out of the window
    assert.equal(budget.spend(conn), true);
    assert.equal(budget.spend(conn), false);
  });

  it('keeps one budget per connection', () => {
    const { budget } = budgetWith(1, 60);
    const a = {};
    const b = {};
    assert.equal(budget.spend(a), true);
    assert.equal(budget.spend(b), true);
    assert.equal(budget.spend(a), false);
    assert.equal(budget.spend(b), false);
  });

  it('reads the budget again on every error (a live reconfigure may change it)', () => {
    const { budget, options } = budgetWith(1, 60);
    const conn = {};
    assert.equal(budget.spend(conn), true);
    options.parseErrorBudget = { count: 5, windowSec: 60 };
    assert.equal(budget.spend(conn), true);
  });

  it('with a count of 0, the first error is already over the budget', () => {
    const { budget } = budgetWith(0, 60);
    assert.equal(budget.spend({}), false);
  });
});
