import { describe, expect, it } from 'vitest';
import { nextSerial, serialGreater } from '../../src/zonefile/index.js';

const day = (y: number, m: number, d: number, h = 12) => new Date(Date.UTC(y, m - 1, d, h));

describe('serialGreater (RFC 1982, 32 bits)', () => {
  it('compares with wraparound', () => {
    expect(serialGreater(1, 0)).toBe(true);
    expect(serialGreater(0, 1)).toBe(false);
    expect(serialGreater(5, 5)).toBe(false);
    expect(serialGreater(0, 4294967295)).toBe(true);
    expect(serialGreater(2147483647, 0)).toBe(true);
    // Distance 2^31 is undefined in RFC 1982: never treat it as an increase.
    expect(serialGreater(2147483648, 0)).toBe(false);
    expect(serialGreater(0, 2147483648)).toBe(false);
  });
});

describe('nextSerial', () => {
  it('moves to today (UTC) as YYYYMMDD00 when that is larger', () => {
    expect(nextSerial(2024010101, day(2024, 3, 5))).toBe(2024030500);
    expect(nextSerial(1, day(2024, 3, 5))).toBe(2024030500);
    expect(nextSerial(2024030423, day(2024, 3, 5, 0))).toBe(2024030500);
  });

  it('increments for same-day changes, even past 99', () => {
    expect(nextSerial(2024030500, day(2024, 3, 5))).toBe(2024030501);
    expect(nextSerial(2024030598, day(2024, 3, 5))).toBe(2024030599);
    expect(nextSerial(2024030599, day(2024, 3, 5))).toBe(2024030600);
  });

  it('increments a serial already ahead of the date scheme', () => {
    expect(nextSerial(2024123100, day(2024, 3, 5))).toBe(2024123101);
    expect(nextSerial(3000000000, day(2024, 3, 5))).toBe(3000000001);
  });

  it('wraps around 2^32 when the date is not an RFC 1982 increase', () => {
    // Year 2200: 2200010100 is more than 2^31 ahead of 4294967295-… so the date cannot be used.
    expect(nextSerial(4294967295, day(2200, 1, 1))).toBe(0);
    expect(nextSerial(4294967294, day(2200, 1, 1))).toBe(4294967295);
    // From the top of the range, today's date is a valid RFC 1982 increase (it wraps).
    expect(nextSerial(4294967295, day(2024, 3, 5))).toBe(2024030500);
    // Dates beyond 32 bits (year 4295+) are never used.
    expect(nextSerial(7, day(4300, 1, 1))).toBe(8);
  });

  it('always returns an RFC 1982 increase', () => {
    const now = day(2024, 3, 5);
    for (let s = 0; s < 4294967296; s += 15485863) {
      const n = nextSerial(s, now);
      expect(serialGreater(n, s)).toBe(true);
      expect(Number.isInteger(n) && n >= 0 && n <= 4294967295).toBe(true);
    }
  });

  it('rejects serials outside 0..2^32-1', () => {
    for (const bad of [-1, 4294967296, 1.5, Number.NaN]) expect(() => nextSerial(bad, day(2024, 3, 5))).toThrow(RangeError);
  });
});
