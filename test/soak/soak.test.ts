import { writeFileSync, mkdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { formatReport, runSoak } from './soak';

// `npm test` runs 4 hours of ticks; `npm run soak` the full day (SOAK_TICKS=288). SOAK_SEED picks the faults.
const ticks = Number(process.env.SOAK_TICKS ?? 48);
const seed = Number(process.env.SOAK_SEED ?? 20261202);

it(`soak: ${ticks} ticks with seeded faults keep every invariant`, async () => {
  const report = await runSoak({ ticks, seed });
  console.log(formatReport(report));
  if (process.env.SOAK_REPORT) {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(process.env.SOAK_REPORT, JSON.stringify(report, null, 2));
  }
  expect(report.violations).toEqual([]);
  // The run met trouble of every kind it names, not a quiet day.
  expect(report.totalFaults).toBeGreaterThanOrEqual(Math.floor(ticks * 0.7));
  expect(Object.keys(report.faults).length).toBeGreaterThanOrEqual(ticks >= 200 ? 15 : 10);
  expect(report.rows.duplicates).toBe(0);
  expect(report.rows.lost).toBe(0);
  expect(report.restarts.made).toBeGreaterThan(ticks / 4);
  // Flat: the heap after GC at the end is where it was a quarter in (a leak of 30 KB a tick would show).
  expect(report.heapMb.end - report.heapMb.early).toBeLessThan(ticks >= 200 ? 6 : 4);
}, 1_800_000);
