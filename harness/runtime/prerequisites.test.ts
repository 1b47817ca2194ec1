import { describe, expect, it } from 'vitest';
import { DockerRuntime } from './docker-runtime.ts';
import { raftstore } from '../systems/raftstore/index.ts';
import { PrerequisiteError } from './runtime.ts';

describe('prerequisite checks', () => {
  it('an unreachable Docker engine is a PrerequisiteError that says so', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const rt = new DockerRuntime();
      await expect(rt.checkPrerequisites()).rejects.toThrow(PrerequisiteError);
      await expect(rt.checkPrerequisites()).rejects.toThrow(/Docker engine unreachable/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('a missing store node bundle names the file and the build command', async () => {
    const options = { nodeIds: ['n1'], clusterSecret: 'secret-1', logLevel: 'info' as const, unsafe: [], storageFaultMode: false, enableFaultInjection: false, systemOptions: { bundle: '/nonexistent/store-node.mjs' } };
    await expect(raftstore.prepare('local', options, () => {})).rejects.toThrow(PrerequisiteError);
    await expect(raftstore.prepare('local', options, () => {})).rejects.toThrow(/\/nonexistent\/store-node.mjs is missing: run `npm run build:node`/);
  });
});
