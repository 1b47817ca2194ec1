import { describe, expect, it } from 'vitest';
import { knownBugsOf } from './known-bugs.ts';

const issues = (v: string): string[] => knownBugsOf(v).map((b) => b.issue.replace('etcd-io/etcd#', ''));

describe('known etcd bugs by release', () => {
  it('names the bugs each reproduced release has, and none once fixed', () => {
    expect(issues('3.5.2')).toEqual(['13766', '14370', '14685', '15220', '18089', '19179']);
    expect(issues('v3.5.4')).toEqual(['14370', '14685', '15220', '18089', '19179']);
    expect(issues('3.5.5')).toEqual(['14685', '15220', '18089', '19179']);
    expect(issues('3.5.7')).toEqual(['15220', '18089', '19179']);
    expect(issues('3.5.8')).toEqual(['18089', '19179']);
    expect(issues('3.5.15')).toEqual(['18089', '19179']);
    expect(issues('3.5.17')).toEqual(['19179']);
    expect(issues('3.5.18')).toEqual([]);
    expect(issues('3.6.17')).toEqual([]);
  });
  it("Debian's 3.4.23 has the progress and compaction bugs (fixed in 3.4.25, 3.4.34, 3.4.36), not the 3.5-only ones", () => {
    expect(issues('3.4.23')).toEqual(['15220', '18089', '19179']);
    expect(issues('3.4.20')).toEqual(['14370', '15220', '18089', '19179']);
    expect(issues('3.4.25')).toEqual(['18089', '19179']);
    expect(issues('3.4.34')).toEqual(['19179']);
    expect(issues('3.4.36')).toEqual([]);
  });
  it('a version it cannot read has none', () => {
    expect(knownBugsOf('main')).toEqual([]);
    expect(knownBugsOf('')).toEqual([]);
  });
});
