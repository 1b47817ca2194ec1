/**
 * etcd's member command line (nodeProgram) and its system options, without starting etcd.
 */
import { describe, expect, it } from 'vitest';
import type { NodeAddressing, SystemRunOptions } from '../system.ts';
import { compactionBatchLimit, etcd, nodeProgram } from './index.ts';

const addr = {
  id: 'n1',
  members: ['n1', 'n2'],
  dataDir: '/data',
  clientListen: { host: '0.0.0.0', port: 2379 },
  peerListen: { host: '0.0.0.0', port: 2380 },
  advertisedClientUrl: 'http://127.0.0.1:1',
  clientUrls: new Map(),
  advertisedPeer: (id: string) => ({ host: id, port: 2380 }),
} as unknown as NodeAddressing;
const options = (systemOptions: Record<string, string>): SystemRunOptions => ({ nodeIds: ['n1', 'n2'], clusterSecret: 'secret', logLevel: 'info', unsafe: [], storageFaultMode: false, enableFaultInjection: false, systemOptions });
const flagAfter = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('etcd member command line', () => {
  it('passes compactionBatchLimit under the flag name of the release (experimental before 3.6)', () => {
    expect(flagAfter(nodeProgram(addr, options({ compactionBatchLimit: '10' }), 't', '3.5.17').args, '--experimental-compaction-batch-limit')).toBe('10');
    expect(flagAfter(nodeProgram(addr, options({ compactionBatchLimit: '10' }), 't', '3.6.17').args, '--compaction-batch-limit')).toBe('10');
    expect(nodeProgram(addr, options({ compactionBatchLimit: '10' }), 't', '3.6.17').args).not.toContain('--experimental-compaction-batch-limit');
    expect(nodeProgram(addr, options({}), 't', '3.5.17').args.join(' ')).not.toContain('compaction-batch-limit');
  });
  it('refuses a compactionBatchLimit that is not a positive integer, naming the option', () => {
    expect(compactionBatchLimit('25')).toBe(25);
    for (const bad of ['0', '-3', '1.5', 'ten', '']) expect(() => compactionBatchLimit(bad)).toThrow(/--system-option compactionBatchLimit: expected a positive integer/);
    expect(() => etcd.checkOptions?.({ compactionBatchLimit: 'x' }, { faultInjection: false } as never)).toThrow(/compactionBatchLimit/);
    expect(etcd.optionHelp).toHaveProperty('compactionBatchLimit');
  });
});
