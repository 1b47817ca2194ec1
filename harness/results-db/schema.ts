/**
 * The results database schema, as numbered migrations. `migrate(sql)` applies the ones not
 * yet applied, in order, each in its own transaction, under an advisory lock so two
 * harnesses starting at once do not race; running it again changes nothing.
 *
 * Append new migrations at the end; never edit one that has shipped (a database that already
 * applied it would not see the change).
 */
import type { Sql } from './db.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs and checker_results',
    sql: `
create table runs (
  id                   integer generated always as identity primary key,
  run_id               text not null unique,          -- run.json runId
  started_at           timestamptz not null,
  finished_at          timestamptz,
  workload             text not null,
  nemesis              text not null,
  nodes                integer,
  concurrency          integer,
  rate                 double precision,
  seed                 bigint,
  runtime              text,
  unsafe               text[] not null default '{}',
  git_revision         text,                          -- "<sha>" or "<sha>-dirty"
  store_version        text,
  harness_version      text,
  valid                text not null check (valid in ('true', 'false', 'unknown')),
  duration_s           double precision,              -- wall clock, startedAt to finishedAt
  history_s            double precision,              -- first to last op of the history
  ops                  integer not null,
  ok_count             integer not null,
  fail_count           integer not null,
  info_count           integer not null,
  ok_per_s             double precision,              -- ok completions / client phase (first to last client op)
  availability         double precision,              -- ok / all completions
  latency_p50_ms       double precision,
  latency_p90_ms       double precision,
  latency_p99_ms       double precision,
  latency_max_ms       double precision,
  fault_count          integer not null,
  fault_availability   double precision,              -- ok / all completing inside fault windows (null: no faults)
  fault_ok_per_s       double precision,
  fault_p99_ms         double precision,
  checkers             jsonb not null,                -- {name: {valid, summary}}
  config               jsonb not null,                -- run.json config as written
  results_dir          text not null,
  recorded_at          timestamptz not null default now()
);
create index runs_setup_started on runs (workload, nemesis, started_at desc);
create index runs_revision_started on runs (git_revision, started_at desc);

create table checker_results (
  run         integer not null references runs (id) on delete cascade,
  checker     text not null,
  valid       text not null check (valid in ('true', 'false', 'unknown')),
  summary     text not null,
  details     jsonb not null,                          -- the checker's result, long arrays cut to 50
  primary key (run, checker)
);
`,
  },
  {
    version: 2,
    name: 'runs.system and runs.leaderless_max_ms',
    // Which system under test a run exercised. Runs recorded before this column existed
    // were all of the reference store ("raftstore"), unless their run.json says otherwise.
    // And the failover figure: the longest time without a leader (election checker).
    sql: `
alter table runs add column system text not null default 'raftstore';
update runs set system = config->>'system' where jsonb_typeof(config->'system') = 'string' and config->>'system' <> '';
create index runs_system_started on runs (system, started_at desc);
alter table runs add column leaderless_max_ms double precision;
update runs set leaderless_max_ms = coalesce((c.details->'leaderless'->'longest'->>'durationMs')::double precision, 0)
  from checker_results c
  where c.run = runs.id and c.checker = 'election' and jsonb_typeof(c.details->'leaderless') = 'object';
`,
  },
];

/** Arbitrary constant: the advisory lock key for migrations. */
const MIGRATION_LOCK = 0x6a657073;

/** Applies pending migrations; returns the versions it applied (empty when up to date). */
export async function migrate(sql: Sql): Promise<number[]> {
  const applied: number[] = [];
  await sql`create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`;
  for (const m of MIGRATIONS) {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      const done = await tx`select 1 from schema_migrations where version = ${m.version}`;
      if (done.length > 0) return;
      await tx.unsafe(m.sql);
      await tx`insert into schema_migrations (version, name) values (${m.version}, ${m.name})`;
      applied.push(m.version);
    });
  }
  return applied;
}
