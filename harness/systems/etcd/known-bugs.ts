/**
 * Consistency bugs etcd fixed that this harness reproduces (harness/BUGS-FOUND.md), by the
 * releases that have them. A run names those of the release it tests before it starts, so a
 * verdict of invalid on, say, Debian's 3.4.23 watch can be read against a known upstream bug
 * rather than taken for a new one (or for the harness's mistake).
 */

import { releaseBelow, releaseTriple } from './version.ts';

export interface KnownEtcdBug {
  readonly issue: string;
  /** What a run shows, in the checkers' words. */
  readonly shows: string;
  /** Release ranges that have it: [first affected, first fixed), as x.y.z. */
  readonly affected: readonly (readonly [string, string])[];
}

export const KNOWN_ETCD_BUGS: readonly KnownEtcdBug[] = [
  { issue: 'etcd-io/etcd#13766', shows: 'a member killed mid-apply loses an acknowledged write (set: lost; replicas: hashes differ)', affected: [['3.5.0', '3.5.3']] },
  { issue: 'etcd-io/etcd#14370', shows: 'a one-member cluster loses acknowledged writes on a crash before its WAL save (set: lost)', affected: [['3.4.0', '3.4.21'], ['3.5.0', '3.5.5']] },
  { issue: 'etcd-io/etcd#14685', shows: 'a crash during defragmentation applies writes twice (watch: acknowledged writes seen again at a later revision)', affected: [['3.5.0', '3.5.6']] },
  { issue: 'etcd-io/etcd#15220', shows: 'progress notifications sent before the events they cover (watch: late-event, gaps)', affected: [['3.4.0', '3.4.25'], ['3.5.0', '3.5.8']] },
  { issue: 'etcd-io/etcd#18089', shows: 'a compaction at a delete drops that delete for watches starting there (watch: changes missed at the compaction revision a watcher resumed from)', affected: [['3.4.0', '3.4.34'], ['3.5.0', '3.5.16']] },
  { issue: 'etcd-io/etcd#19179', shows: 'after a crash in a compaction at a delete, watches starting there miss that delete (watch: changes missed at the compaction revision a watcher resumed from)', affected: [['3.4.0', '3.4.36'], ['3.5.0', '3.5.18']] },
];

/** The known bugs a release has ([] for one this table does not cover or cannot parse). */
export function knownBugsOf(version: string): KnownEtcdBug[] {
  const v = releaseTriple(version);
  if (v === null) return [];
  return KNOWN_ETCD_BUGS.filter((bug) =>
    bug.affected.some(([from, to]) => {
      const f = releaseTriple(from);
      const t = releaseTriple(to);
      return f !== null && t !== null && !releaseBelow(v, f) && releaseBelow(v, t);
    }),
  );
}
