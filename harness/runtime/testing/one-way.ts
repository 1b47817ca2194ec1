/**
 * The proof that a cut is one-way at the byte level, shared by the runtimes' plumbing tests
 * (stand-in nodes): after cutting a→b, a message a sends to b never arrives, a message b sends
 * to a does (on a connection b opened: b's bytes flow even though a's answer cannot), a's
 * messages to a third node still arrive, and after healing a→b carries bytes again.
 */
import type { StartedCluster } from '../runtime.ts';

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function send(cluster: StartedCluster, from: string, to: string, msg: string): Promise<void> {
  await getJson(`${cluster.node(from).clientUrl}/send?peer=${to}&msg=${encodeURIComponent(msg)}`);
}

async function received(cluster: StartedCluster, node: string): Promise<string[]> {
  return (await getJson(`${cluster.node(node).clientUrl}/received`)).body.received as string[];
}

export interface OneWayObservation {
  readonly cutDirectionDelivered: boolean;
  readonly reverseDirectionDelivered: boolean;
  readonly otherLinkDelivered: boolean;
  readonly healedDelivered: boolean;
}

export async function observeOneWayCut(cluster: StartedCluster, a: string, b: string, c: string): Promise<OneWayObservation> {
  const tag = Math.random().toString(36).slice(2, 8);
  await cluster.network.cut({ from: a, to: b });
  await send(cluster, a, b, `cut-${tag}`);
  await send(cluster, b, a, `reverse-${tag}`);
  await send(cluster, a, c, `other-${tag}`);
  const cutDirectionDelivered = (await received(cluster, b)).includes(`cut-${tag}`);
  const reverseDirectionDelivered = (await received(cluster, a)).includes(`reverse-${tag}`);
  const otherLinkDelivered = (await received(cluster, c)).includes(`other-${tag}`);
  await cluster.network.healAll();
  await send(cluster, a, b, `healed-${tag}`);
  const healedDelivered = (await received(cluster, b)).includes(`healed-${tag}`);
  return { cutDirectionDelivered, reverseDirectionDelivered, otherLinkDelivered, healedDelivered };
}

export const ONE_WAY = { cutDirectionDelivered: false, reverseDirectionDelivered: true, otherLinkDelivered: true, healedDelivered: true } as const;

/**
 * `heal(link)` undoes that one cut: with a→b and a→c cut, healing a→b lets a's bytes reach b
 * again while a→c stays cut (then everything is healed).
 */
export async function observeHealOne(cluster: StartedCluster, a: string, b: string, c: string): Promise<{ healedLinkDelivered: boolean; stillCutDelivered: boolean }> {
  const tag = Math.random().toString(36).slice(2, 8);
  await cluster.network.cut({ from: a, to: b });
  await cluster.network.cut({ from: a, to: c });
  await cluster.network.heal({ from: a, to: b });
  await send(cluster, a, b, `healed-one-${tag}`);
  await send(cluster, a, c, `still-cut-${tag}`);
  const healedLinkDelivered = (await received(cluster, b)).includes(`healed-one-${tag}`);
  const stillCutDelivered = (await received(cluster, c)).includes(`still-cut-${tag}`);
  await cluster.network.healAll();
  return { healedLinkDelivered, stillCutDelivered };
}

/**
 * A cut drops what is in flight on a slowed link: with 400 ms of latency on a→b, a message a
 * sent 150 ms before the cut never reaches b (Toxiproxy must not forward it early on the cut),
 * and after `heal(link)` the link carries bytes again, still slowed (then everything is healed).
 */
export async function observeCutInFlight(cluster: StartedCluster, a: string, b: string): Promise<{ inFlightDelivered: boolean; afterHealDelivered: boolean; afterHealMs: number }> {
  const tag = Math.random().toString(36).slice(2, 8);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await cluster.network.addToxic({ from: a, to: b }, 'slow', { type: 'latency', latencyMs: 400, jitterMs: 0 });
  const sending = send(cluster, a, b, `in-flight-${tag}`).catch(() => undefined);
  await sleep(150);
  await cluster.network.cut({ from: a, to: b });
  await sleep(600); // past the message's latency
  const inFlightDelivered = (await received(cluster, b)).includes(`in-flight-${tag}`);
  await sending;
  await cluster.network.heal({ from: a, to: b });
  const t0 = Date.now();
  await send(cluster, a, b, `after-heal-${tag}`);
  const afterHealMs = Date.now() - t0;
  const afterHealDelivered = (await received(cluster, b)).includes(`after-heal-${tag}`);
  await cluster.network.healAll();
  return { inFlightDelivered, afterHealDelivered, afterHealMs };
}
