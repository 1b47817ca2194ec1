import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'node-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = ['--id', 'n1', '--data-dir', join(tmp, 'data'), '--cluster-secret', 'sekrit-key'];

function errorOf(argv: readonly string[], env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${argv.join(' ')}`);
}

describe('parseConfig', () => {
  it('accepts a full valid command line and applies defaults', () => {
    const config = parseConfig([...base, '--peers', 'n2=127.0.0.1:7002,n3=localhost:7003', '--client-port', '8001', '--peer-port', '7001']);
    expect(config.id).toBe('n1');
    expect([...config.peers.entries()]).toEqual([
      ['n2', { host: '127.0.0.1', port: 7002 }],
      ['n3', { host: 'localhost', port: 7003 }],
    ]);
    expect(config.initialMembers).toEqual(['n1', 'n2', 'n3']);
    expect(config.join).toBe(false);
    expect(config.tickMs).toBe(20);
    expect(config.electionTicks).toBe(10);
    expect(config.heartbeatTicks).toBe(2);
    expect(config.snapshotEntries).toBe(100_000);
    expect(config.maxAppendBytes).toBe(1024 * 1024);
    expect(parseConfig([...base, '--max-append-bytes', '300']).maxAppendBytes).toBe(300);
    // The proposal limit is its own: small appends do not shrink what a client may write.
    expect(config.maxProposalBytes).toBe(1024 * 1024);
    expect(parseConfig([...base, '--max-append-bytes', '300']).maxProposalBytes).toBe(1024 * 1024);
    expect(parseConfig([...base, '--max-proposal-bytes', '4096']).maxProposalBytes).toBe(4096);
    expect(parseConfig(base, { STORE_MAX_PROPOSAL_BYTES: '2048' }).maxProposalBytes).toBe(2048);
    expect(config.advertiseClientUrl).toBe('http://n1:8001');
    expect(config.unsafe.size).toBe(0);
    expect(config.logLevel).toBe('info');
  });

  it('reads every setting from the environment when no flag is given, and flags win', () => {
    const env = {
      STORE_ID: 'n2',
      STORE_DATA_DIR: join(tmp, 'env'),
      STORE_CLUSTER_SECRET: 'from-env-secret',
      STORE_PEERS: 'n1=127.0.0.1:7001',
      STORE_JOIN: '1',
      STORE_CLIENT_PORT: '9000',
      STORE_UNSAFE: 'no-fsync,stale-reads',
      STORE_STORAGE_FAULT_MODE: 'true',
      STORE_TICK_MS: '5',
      STORE_PEER_CLIENT_URLS: 'n1=http://127.0.0.1:8001',
    };
    const config = parseConfig([], env);
    expect(config.id).toBe('n2');
    expect(config.join).toBe(true);
    expect(config.initialMembers).toEqual([]);
    expect(config.clientPort).toBe(9000);
    expect([...config.unsafe].sort()).toEqual(['no-fsync', 'stale-reads']);
    expect(config.storageFaultMode).toBe(true);
    expect(config.tickMs).toBe(5);
    expect(config.peerClientUrls.get(config.peers.keys().next().value!)).toBe('http://127.0.0.1:8001');
    expect(parseConfig(['--id', 'n3', '--client-port', '9100'], env).clientPort).toBe(9100);
  });

  const cases: readonly [string, readonly string[], Record<string, string>, string, RegExp][] = [
    ['missing id', ['--data-dir', join(tmp, 'x'), '--cluster-secret', 'sekrit-key'], {}, '--id', /required/],
    ['bad id syntax', ['--id', 'N1!', '--data-dir', join(tmp, 'x'), '--cluster-secret', 'sekrit-key'], {}, '--id', /not a valid node id/],
    ['id too long', ['--id', 'a'.repeat(33), '--data-dir', join(tmp, 'x'), '--cluster-secret', 'sekrit-key'], {}, '--id', /not a valid node id/],
    ['peer without port', [...base, '--peers', 'n2=127.0.0.1'], {}, '--peers', /not id=host:port/],
    ['peer without id', [...base, '--peers', '127.0.0.1:7002'], {}, '--peers', /not id=host:port/],
    ['peer with bad id', [...base, '--peers', 'N2=127.0.0.1:7002'], {}, '--peers', /not a valid node id/],
    ['peer port out of range', [...base, '--peers', 'n2=127.0.0.1:70000'], {}, '--peers', /out of range/],
    ['peer port not a number', [...base, '--peers', 'n2=127.0.0.1:http'], {}, '--peers', /not a port/],
    ['duplicate peer', [...base, '--peers', 'n2=127.0.0.1:7002,n2=127.0.0.1:7003'], {}, '--peers', /duplicate id "n2"/],
    ['self among peers', [...base, '--peers', 'n1=127.0.0.1:7002'], {}, '--peers', /own id/],
    ['client port zero', [...base, '--client-port', '0'], {}, '--client-port', /out of range/],
    ['client port too big', [...base, '--client-port', '65536'], {}, '--client-port', /out of range/],
    ['peer port not numeric', [...base, '--peer-port', 'x1'], {}, '--peer-port', /not a port/],
    ['client and peer port equal', [...base, '--client-port', '7000', '--peer-port', '7000'], {}, '--peer-port', /same as --client-port/],
    ['missing data dir', ['--id', 'n1', '--cluster-secret', 'sekrit-key'], {}, '--data-dir', /required/],
    ['missing secret', ['--id', 'n1', '--data-dir', join(tmp, 'x')], {}, '--cluster-secret', /required/],
    ['short secret', ['--id', 'n1', '--data-dir', join(tmp, 'x'), '--cluster-secret', 'abc'], {}, '--cluster-secret', /at least 6/],
    ['election not above heartbeat', [...base, '--election-ticks', '3', '--heartbeat-ticks', '3'], {}, '--election-ticks', /greater than --heartbeat-ticks/],
    ['tick-ms zero', [...base, '--tick-ms', '0'], {}, '--tick-ms', /out of range/],
    ['tick-ms fraction', [...base, '--tick-ms', '1.5'], {}, '--tick-ms', /not a whole number/],
    ['snapshot-entries zero', [...base, '--snapshot-entries', '0'], {}, '--snapshot-entries', /out of range/],
    ['max-append-bytes too small', [...base, '--max-append-bytes', '100'], {}, '--max-append-bytes', /out of range/],
    ['max-proposal-bytes too large', [...base, '--max-proposal-bytes', String(64 * 1024 * 1024)], {}, '--max-proposal-bytes', /out of range/],
    ['unknown unsafe name', [...base, '--unsafe', 'stale-reads,yolo'], {}, '--unsafe', /unknown switch "yolo"/],
    ['unknown unsafe name from env', base, { STORE_UNSAFE: 'fast' }, '--unsafe', /unknown switch "fast"/],
    ['bad log level', [...base, '--log-level', 'trace'], {}, '--log-level', /unknown level/],
    ['initial members without self', [...base, '--peers', 'n2=h:1', '--initial-members', 'n2'], {}, '--initial-members', /must include/],
    ['initial member without address', [...base, '--initial-members', 'n1,n9'], {}, '--initial-members', /no address/],
    ['duplicate initial member', [...base, '--initial-members', 'n1,n1'], {}, '--initial-members', /duplicate/],
    ['join with initial members', [...base, '--join', '--initial-members', 'n1'], {}, '--initial-members', /cannot be combined/],
    ['bad boolean env', base, { STORE_JOIN: 'yes' }, '--join', /not a boolean/],
    ['bad advertise url', [...base, '--advertise-client-url', 'ftp://x'], {}, '--advertise-client-url', /http/],
    ['unparsable advertise url', [...base, '--advertise-client-url', 'not a url'], {}, '--advertise-client-url', /not a URL/],
    ['bad peer client url entry', [...base, '--peer-client-urls', 'n2'], {}, '--peer-client-urls', /not id=url/],
    ['duplicate peer client url', [...base, '--peer-client-urls', 'n2=http://a:1,n2=http://b:1'], {}, '--peer-client-urls', /duplicate/],
    ['unknown flag', [...base, '--frobnicate'], {}, '--frobnicate', /unknown option/],
    ['flag missing its value', [...base, '--peers'], {}, '--peers', /argument missing/],
  ];
  for (const [name, argv, env, flag, problem] of cases) {
    it(`rejects ${name}, naming ${flag}`, () => {
      const err = errorOf(argv, env);
      expect(err.flag).toBe(flag);
      expect(err.problem).toMatch(problem);
    });
  }

  it('rejects a data dir that cannot be created', () => {
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'x');
    const err = errorOf(['--id', 'n1', '--data-dir', join(file, 'sub'), '--cluster-secret', 'sekrit-key']);
    expect(err.flag).toBe('--data-dir');
    expect(err.problem).toMatch(/cannot create/);
  });

  it.skipIf(process.getuid?.() === 0)('rejects a data dir that is not writable', () => {
    const dir = join(tmp, 'readonly');
    parseConfig(['--id', 'n1', '--data-dir', dir, '--cluster-secret', 'sekrit-key']);
    chmodSync(dir, 0o500);
    const err = errorOf(['--id', 'n1', '--data-dir', dir, '--cluster-secret', 'sekrit-key']);
    chmodSync(dir, 0o700);
    expect(err.flag).toBe('--data-dir');
    expect(err.problem).toMatch(/not writable/);
  });
});
