import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionsPerAddress } from './connection-limits.ts';

describe('ConnectionsPerAddress', () => {
  it('admits up to the limit per address and refuses the next one without counting it', () => {
    const limits = new ConnectionsPerAddress({ maxConnectionsPerAddress: 2 });
    assert.equal(limits.admit('192.0.2.1'), true);
    assert.equal(limits.admit('192.0.2.1'), true);
    assert.equal(limits.admit('192.0.2.1'), false);
    assert.equal(limits.count('192.0.2.1'), 2);
    assert.equal(limits.admit('192.0.2.2'), true, 'another address has its own count');
  });

  it('admits again once a connection from the address closes, and forgets an address with none left', () => {
    const limits = new ConnectionsPerAddress({ maxConnectionsPerAddress: 1 });
    assert.equal(limits.admit('2001:db8::1'), true);
    assert.equal(limits.admit('2001:db8::1'), false);
    limits.release('2001:db8::1');
    assert.equal(limits.count('2001:db8::1'), 0);
    assert.equal(limits.admit('2001:db8::1'), true);
  });

  it('has no limit when the option is 0', () => {
    const limits = new ConnectionsPerAddress({ maxConnectionsPerAddress: 0 });
    for (let i = 0; i < 1000; i++) assert.equal(limits.admit('192.0.2.1'), true);
    assert.equal(limits.count('192.0.2.1'), 1000);
  });

  it('reads the limit on every new connection (a live reconfigure may change it)', () => {
    const options = { maxConnectionsPerAddress: 1 };
    const limits = new ConnectionsPerAddress(options);
    assert.equal(limits.admit('192.0.2.1'), true);
    options.maxConnectionsPerAddress = 3;
    assert.equal(limits.admit('192.0.2.1'), true);
  });
});
