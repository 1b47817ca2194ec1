import { describe, expect, it } from 'vitest';
import type { Nemesis } from './nemesis.ts';
import { planComposedSchedule, planSchedule, scheduleProblems } from './planned.ts';

const nemesis = (name: string): Nemesis => ({ name, start: () => Promise.resolve(null), stop: () => Promise.resolve(null) }) as unknown as Nemesis;
const three = [nemesis('partition'), nemesis('kill'), nemesis('pause')];

function overlaps(a: { atMs: number; durationMs: number }, b: { atMs: number; durationMs: number }): boolean {
  return a.atMs < b.atMs + b.durationMs && b.atMs < a.atMs + a.durationMs;
}

describe('planned fault schedules', () => {
  it('one at a time by default: no two faults overlap, each has its own seed, the same seed plans the same faults', () => {
    const s = planSchedule(7, three, 2000, 60_000);
    expect(s.length).toBeGreaterThan(10);
    for (let i = 1; i < s.length; i++) expect(overlaps(s[i - 1]!, s[i]!)).toBe(false);
    expect(new Set(s.map((f) => f.seed)).size).toBe(s.length);
    expect(planSchedule(7, three, 2000, 60_000)).toEqual(s);
    expect(planSchedule(8, three, 2000, 60_000)).not.toEqual(s);
  });

  it('composed: every nemesis on its own timeline, faults of different nemeses overlap, one nemesis never overlaps itself', () => {
    const s = planComposedSchedule(7, three, 2000, 60_000);
    for (const n of three) {
      const own = s.filter((f) => f.nemesis === n.name);
      expect(own.length).toBeGreaterThan(5);
      for (let i = 1; i < own.length; i++) expect(own[i]!.atMs).toBeGreaterThanOrEqual(own[i - 1]!.atMs + own[i - 1]!.durationMs);
    }
    const crossing = s.filter((a) => s.some((b) => b.nemesis !== a.nemesis && overlaps(a, b)));
    expect(crossing.length).toBeGreaterThan(s.length / 2);
    expect(s.every((f) => f.atMs + f.durationMs <= 60_000)).toBe(true);
    expect(planComposedSchedule(7, three, 2000, 60_000)).toEqual(s);
    expect(scheduleProblems(s, three, 'x')).toEqual([]);
  });
});
