/** A node handle for nemesis unit tests: kill, start, pause and resume only change `state`; `starts` counts restarts. */
import type { NodeHandle, NodeState } from '../runtime/runtime.ts';

export type FakeNode = NodeHandle & { state: NodeState; starts: number };

export function fakeNode(id: string): FakeNode {
  const node: FakeNode = {
    id,
    clientUrl: `mem://${id}`,
    state: 'running',
    starts: 0,
    kill: () => Promise.resolve(void (node.state = 'killed')),
    start: () => {
      node.starts++;
      node.state = 'running';
      return Promise.resolve();
    },
    pause: () => Promise.resolve(void (node.state = 'paused')),
    resume: () => Promise.resolve(void (node.state = 'running')),
    listDataFiles: () => Promise.resolve([]),
    readDataFile: () => Promise.resolve(Buffer.alloc(0)),
    writeDataFile: () => Promise.resolve(),
  };
  return node;
}
