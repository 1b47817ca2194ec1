/**
 * The envelope the driver wraps around every proposed 'normal' entry, so that on apply the
 * proposer can tell whether the entry at the index it was promised is its very own proposal
 * (STYLE.md rule 10). A leader that lost its term may see its uncommitted entry replaced by
 * another leader's entry at the same index; answering with that entry's result would be a lie.
 *
 * Layout (big-endian):
 *   0      magic 0xE1 (format version 1)
 *   1      L = byte length of the proposer's node id (1..32)
 *   2      node id, UTF-8, L bytes
 *   2+L    incarnation: u32, random per process start (so a restarted node's counter reset
 *          cannot collide with its previous life's entries still in the log)
 *   6+L    counter: u32, per incarnation
 *   10+L   the application's payload
 */
export const ENVELOPE_MAGIC = 0xe1;

export interface ProposalId {
  readonly node: string;
  readonly incarnation: number;
  readonly counter: number;
}

export function sameProposal(a: ProposalId, b: ProposalId): boolean {
  return a.counter === b.counter && a.incarnation === b.incarnation && a.node === b.node;
}

export function encodeEnvelope(id: ProposalId, payload: Uint8Array): Uint8Array {
  const nodeBytes = Buffer.from(id.node, 'utf8');
  if (nodeBytes.length < 1 || nodeBytes.length > 255) throw new RangeError(`node id "${id.node}" does not fit an envelope`);
  const out = new Uint8Array(10 + nodeBytes.length + payload.length);
  const view = new DataView(out.buffer);
  out[0] = ENVELOPE_MAGIC;
  out[1] = nodeBytes.length;
  out.set(nodeBytes, 2);
  view.setUint32(2 + nodeBytes.length, id.incarnation >>> 0);
  view.setUint32(6 + nodeBytes.length, id.counter >>> 0);
  out.set(payload, 10 + nodeBytes.length);
  return out;
}

/** Splits an entry's data; data that is not an envelope is all payload with no id. */
export function decodeEnvelope(data: Uint8Array): { readonly id: ProposalId | null; readonly payload: Uint8Array } {
  if (data.length < 11 || data[0] !== ENVELOPE_MAGIC) return { id: null, payload: data };
  const length = data[1] ?? 0;
  if (length < 1 || data.length < 10 + length) return { id: null, payload: data };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const node = Buffer.from(data.buffer, data.byteOffset + 2, length).toString('utf8');
  return {
    id: { node, incarnation: view.getUint32(2 + length), counter: view.getUint32(6 + length) },
    payload: data.subarray(10 + length),
  };
}
