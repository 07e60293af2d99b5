import { describe, expect, it } from 'vitest';
import { HostGate } from '../../src/dane/host-gate.js';

/** The most grants within any one-second window [t, t + 1000). */
function busiestSecond(times: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('HostGate: polite to one mail server', () => {
  it('never more than perSecond grants in any second, by the times the gate logs, even when callers resume late', async () => {
    const gate = new HostGate({ concurrent: 8, perSecond: 5 });
    const spin = (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end);
    };
    // The first task blocks the event loop for 300 ms: the callers granted with it resume only
    // then, while the budget granted them at once (their slots free again one second later).
    await Promise.all(Array.from({ length: 16 }, (_, i) => gate.run('192.0.2.1', async () => spin(i === 0 ? 300 : 0))));
    const grants = gate.grants.get('192.0.2.1')!;
    expect(grants).toHaveLength(16);
    expect(busiestSecond(grants)).toBeLessThanOrEqual(5);
    expect(gate.peak.get('192.0.2.1')).toBeLessThanOrEqual(8);
    // 16 grants at 5 per second cannot all happen within 3 seconds.
    expect(grants.at(-1)! - grants[0]!).toBeGreaterThanOrEqual(3000);
  }, 20_000);
});
