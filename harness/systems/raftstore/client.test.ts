import { describe, expect, it } from 'vitest';
import { classify } from './client.ts';

describe('raftstore client: classifying outcomes', () => {
  it('definite errors fail, indefinite ones are info, and any error on a read fails', () => {
    const timeout = { kind: 'error', definite: false, code: 'timeout', status: null, body: null, leaderHint: null } as const;
    const conflict = { kind: 'error', definite: true, code: 'version-conflict', status: 409, body: { error: { code: 'version-conflict', currentVersion: 4 } }, leaderHint: null } as const;
    expect(classify(timeout, 'n1', false, () => null).type).toBe('info');
    expect(classify(timeout, 'n1', true, () => null).type).toBe('fail');
    expect(classify(conflict, 'n1', false, () => null)).toEqual({ type: 'fail', error: { code: 'version-conflict', status: 409, currentVersion: 4 }, node: 'n1' });
    expect(classify({ kind: 'ok', status: 200, body: { version: 2 } }, 'n1', false, (b) => b.version)).toEqual({ type: 'ok', value: 2, node: 'n1' });
  });
});
