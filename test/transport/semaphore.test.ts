import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/transport/semaphore.js';

describe('Semaphore', () => {
  it('lets `limit` holders in and the rest in order as permits come back', async () => {
    const sem = new Semaphore(2);
    const order: number[] = [];
    const releases = await Promise.all([sem.acquire(), sem.acquire()]);
    const waiting = [3, 4].map((n) => sem.acquire().then((release) => (order.push(n), release)));
    await Promise.resolve();
    expect(order).toEqual([]);
    releases[0]();
    releases[0](); // a second call gives nothing back
    const r3 = await waiting[0]!;
    expect(order).toEqual([3]);
    expect(sem.inUse).toBe(2);
    releases[1]();
    const r4 = await waiting[1]!;
    r3();
    r4();
    expect(order).toEqual([3, 4]);
    expect(sem.inUse).toBe(0);
  });

  it('refuses a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
