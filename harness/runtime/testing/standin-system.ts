/**
 * A system whose node is the stand-in (../testdata/standin-node.mjs): for the runtimes' own
 * plumbing tests, which must not depend on the store. It answers /healthz and /v1/status,
 * dials a peer on /probe?peer=ID through the address it was given, and counts its boots.
 */
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { ensureNodeBase, ensureStoreNodeImage, imageExists } from '../../../docker/images.ts';
import { unsupported } from '../../../workloads/client.ts';
import type { PreparedSystem, System } from '../../systems/system.ts';
import type { RuntimeName } from '../runtime.ts';

export const STANDIN = join(import.meta.dirname, '..', 'testdata', 'standin-node.mjs');

const standin: System = {
  name: 'standin',
  description: 'the runtime tests’ stand-in node',
  supports: { ops: new Set(), runtimes: new Set(['docker', 'local']), features: new Set(), readConsistency: new Set(['linearizable']), unsafe: [] },
  prepare: (runtime) => prepareStandin(runtime, 'per-peer'),
};

export async function prepareStandin(runtime: RuntimeName, peerAddressing: PreparedSystem['peerAddressing']): Promise<PreparedSystem> {
  let image: string | undefined;
  if (runtime === 'docker') {
    const docker = new Dockerode();
    const base = (await imageExists(docker, 'node:20-bookworm-slim')) ? 'node:20-bookworm-slim' : await ensureNodeBase(docker, () => {});
    image = await ensureStoreNodeImage(docker, base, () => {}, STANDIN);
  }
  return {
    system: standin,
    peerAddressing,
    ...(image !== undefined ? { image } : {}),
    localCommand: [process.execPath, STANDIN],
    containerPorts: { client: 8000, peer: 7000 },
    containerDataDir: '/data',
    versions: {},
    nodeProgram: (addr) => ({
      args: [
        '--id', addr.id,
        '--peers', addr.members.filter((p) => p !== addr.id).map((p) => `${p}=${addr.peerAddress(p).host}:${addr.peerAddress(p).port}`).join(','),
        '--data-dir', addr.dataDir,
        '--client-port', String(addr.clientListen.port),
        '--peer-port', String(addr.peerListen.port),
      ],
    }),
    status: () => Promise.resolve(null),
    openClient: () => unsupported('standin', 'read'),
    collect: () => Promise.resolve({ events: [], problems: [] }),
  };
}
