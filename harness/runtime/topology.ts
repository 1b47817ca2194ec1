/**
 * The port plan shared by the runtimes. One Toxiproxy server carries every link:
 * a client proxy per node (`client-<id>`) and a peer proxy per ordered pair
 * (`peer-<a>-<b>`, what node a dials to reach node b), so a fault can cut any single link in
 * either direction without touching the others.
 */
import type { Link, NodeId } from './runtime.ts';

export const CLIENT_PROXY_BASE = 20000;
/** A node's control port (PreparedSystem.containerPorts.control): its own proxy, never faulted. */
export const CONTROL_PROXY_BASE = 20500;
export const PEER_PROXY_BASE = 21000;

export function nodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

function ordinal(id: NodeId, ids: readonly NodeId[]): number {
  const i = ids.indexOf(id);
  if (i < 0) throw new Error(`unknown node ${id} (cluster has ${ids.join(', ')})`);
  return i + 1;
}

export function clientProxyName(id: NodeId): string {
  return `client-${id}`;
}
export function peerProxyName(link: Link): string {
  return `peer-${link.from}-${link.to}`;
}

/** Port the Toxiproxy server listens on for clients of node `id`. */
export function clientProxyPort(id: NodeId, ids: readonly NodeId[], base = CLIENT_PROXY_BASE): number {
  return base + ordinal(id, ids);
}
export function controlProxyName(id: NodeId): string {
  return `control-${id}`;
}
export function controlProxyPort(id: NodeId, ids: readonly NodeId[]): number {
  return CONTROL_PROXY_BASE + ordinal(id, ids);
}

/** Port the Toxiproxy server listens on for link a→b. */
export function peerProxyPort(link: Link, ids: readonly NodeId[], base = PEER_PROXY_BASE): number {
  if (ids.length > 99) throw new Error(`at most 99 nodes (got ${ids.length})`);
  return base + ordinal(link.from, ids) * 100 + ordinal(link.to, ids);
}

export function allLinks(ids: readonly NodeId[]): Link[] {
  const out: Link[] = [];
  for (const from of ids) for (const to of ids) if (from !== to) out.push({ from, to });
  return out;
}

export interface ProxySpec {
  readonly name: string;
  readonly listen: string;
  readonly upstream: string;
}

/** One proxy of a cluster's topology: which Toxiproxy server holds it, and which peer link it carries (null: a client link). */
export interface LinkProxy extends ProxySpec {
  /** Base URL of the Toxiproxy API that holds this proxy. */
  readonly api: string;
  readonly link: Link | null;
}
