// The flags of `strata lab traffic` / `lab flows`: rates and durations, and what they refuse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseRate } from '../../src/lab-session/index.ts';

describe('traffic flags', () => {
  const rates: [string, number | RegExp][] = [
    ['10/s', 10],
    ['10', 10],
    ['0.5/s', 0.5],
    ['600/m', 10],
    ['30/min', 0.5],
    ['fast', /expected N\/s/],
    ['0/s', /between/],
    ['20000/s', /between/],
  ];
  for (const [text, want] of rates) {
    it(`rate ${text}`, () => {
      const r = parseRate(text);
      if (typeof want === 'number') assert.equal(r, want);
      else assert.match(String(r), want);
    });
  }
  const durations: [string, number | RegExp][] = [
    ['500ms', 500],
    ['30s', 30_000],
    ['30', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['yesterday', /--since "yesterday": expected a duration/],
  ];
  for (const [text, want] of durations) {
    it(`duration ${text}`, () => {
      const r = parseDuration(text, '--since');
      if (typeof want === 'number') assert.equal(r, want);
      else assert.match(String(r), want);
    });
  }
});
