/**
 * NetworkControl over one or more Toxiproxy servers, through toxiproxy-node-client. Shared by
 * the docker and local runtimes and both peer topologies: each peer link a→b is one proxy
 * (what a dials to reach b), wherever it lives.
 *
 * A cut is one-way at the byte level: "nothing a sends reaches b". Bytes from a to b travel on
 * connections a opened to b (the upstream stream of proxy a→b) and, for systems whose peers
 * answer on connections the other side opened (etcd's rafthttp: b's stream readers dial a and
 * a writes its messages into the response), on connections b opened to a (the downstream
 * stream of proxy b→a). A cut drops both with Toxiproxy's `timeout` toxic at timeout 0: data
 * is dropped on the ground and the connection stays open, as a real partition (Jepsen's
 * iptables DROP) behaves; removing the toxic closes those connections. Cutting both directions
 * of a pair is a full partition of it.
 *
 * Bytes in flight when a slowed link is cut are dropped, as in the simulated network and as
 * with iptables on the receiver. Toxiproxy needs care for that: adding a toxic interrupts the
 * one before it in the chain, and an interrupted latency toxic forwards the chunk it is holding
 * at once, skipping the rest of its delay (toxics/latency.go: "Don't drop any data on the
 * floor") — so a cut added behind a latency toxic delivered the message in flight early, which
 * is how the new leader's first append slipped past the figure-8 nemesis' cut. So whenever a
 * link stream gets another toxic, its cut toxic is installed right behind it at toxicity 0
 * (passing everything), and a cut raises its toxicity to 1: updating a toxic interrupts only
 * that toxic. A heal still removes the cut toxic (closing the connections whose bytes were
 * dropped) and puts a passing one back behind the other toxics.
 */
import { Toxiproxy } from 'toxiproxy-node-client';
import type { LinkProxy } from './topology.ts';
import type { Link, LinkToxic, NetworkControl } from './runtime.ts';

/** One stream of one proxy, and the name of the cut toxic that drops its bytes. */
interface CutSite {
  readonly proxy: LinkProxy;
  readonly stream: 'upstream' | 'downstream';
  readonly toxic: string;
}

const BLACKHOLE = { type: 'timeout' as const, attributes: { timeout: 0 } };

export class ToxiproxyLinks implements NetworkControl {
  private readonly clients = new Map<string, Toxiproxy>();
  private readonly byLink = new Map<string, LinkProxy>();
  /** Cut toxics installed, by site key: true when cutting (toxicity 1), false when passing (0). */
  private readonly cutToxics = new Map<string, boolean>();
  /** Sites whose stream carries another toxic (latency, bandwidth…), so their cut stays installed behind it. */
  private readonly slowed = new Set<string>();

  constructor(private readonly proxies: readonly LinkProxy[]) {
    for (const p of proxies) {
      if (!this.clients.has(p.api)) this.clients.set(p.api, new Toxiproxy(p.api));
      if (p.link !== null) this.byLink.set(linkKey(p.link), p);
    }
  }

  /** The Toxiproxy API URLs this control talks to. */
  get apis(): string[] {
    return [...this.clients.keys()];
  }

  private client(api: string): Toxiproxy {
    const c = this.clients.get(api);
    if (c === undefined) throw new Error(`no Toxiproxy client for ${api}`);
    return c;
  }

  /** Create every proxy (idempotent: Toxiproxy's populate replaces proxies of the same name). */
  async populate(): Promise<void> {
    await Promise.all(
      [...this.clients.entries()].map(([api, client]) =>
        client.populate(this.proxies.filter((p) => p.api === api).map((p) => ({ name: p.name, listen: p.listen, upstream: p.upstream, enabled: true }))),
      ),
    );
  }

  private proxyOf(link: Link): LinkProxy {
    const p = this.byLink.get(linkKey(link));
    if (p === undefined) throw new Error(`no proxy for link ${link.from}→${link.to}`);
    return p;
  }

  /**
   * Where a's bytes to b travel: on connections a opened to b (upstream of proxy a→b), and on
   * connections b opened to a (a's answers travel downstream of proxy b→a).
   */
  private cutSites(link: Link): [CutSite, CutSite] {
    return [
      { proxy: this.proxyOf(link), stream: 'upstream', toxic: `cut-${link.from}-${link.to}-up` },
      { proxy: this.proxyOf({ from: link.to, to: link.from }), stream: 'downstream', toxic: `cut-${link.from}-${link.to}-down` },
    ];
  }

  async cut(link: Link): Promise<void> {
    for (const site of this.cutSites(link)) {
      const key = siteKey(site);
      const installed = this.cutToxics.get(key);
      if (installed === true) continue;
      if (installed === false) await updateToxicity(site.proxy.api, site.proxy.name, site.toxic, 1);
      else await (await this.client(site.proxy.api).get(site.proxy.name)).addToxic({ name: site.toxic, stream: site.stream, toxicity: 1, ...BLACKHOLE });
      this.cutToxics.set(key, true);
    }
  }

  async heal(link: Link): Promise<void> {
    for (const site of this.cutSites(link)) {
      const key = siteKey(site);
      if (this.cutToxics.get(key) === false) continue; // installed, passing: nothing was dropped
      await removeToxicIfPresent(site.proxy.api, site.proxy.name, site.toxic);
      this.cutToxics.delete(key);
      if (this.slowed.has(streamKey(site))) await this.installPassingCut(site);
    }
  }

  async addToxic(link: Link, name: string, toxic: LinkToxic): Promise<void> {
    const p = this.proxyOf(link);
    const proxy = await this.client(p.api).get(p.name);
    for (const stream of ['upstream', 'downstream'] as const) {
      await proxy.addToxic({ name: `${name}-${stream}`, stream, ...toxicBody(toxic) });
      // The cut of the bytes this stream carries: a→b's upstream, b→a's answers downstream.
      const site: CutSite = stream === 'upstream' ? { proxy: p, stream, toxic: `cut-${link.from}-${link.to}-up` } : { proxy: p, stream, toxic: `cut-${link.to}-${link.from}-down` };
      this.slowed.add(streamKey(site));
      if (!this.cutToxics.has(siteKey(site))) await this.installPassingCut(site);
    }
  }

  /** A cut toxic at toxicity 0 behind the stream's other toxics, for `cut` to raise (see the file comment). */
  private async installPassingCut(site: CutSite): Promise<void> {
    await (await this.client(site.proxy.api).get(site.proxy.name)).addToxic({ name: site.toxic, stream: site.stream, toxicity: 0, ...BLACKHOLE });
    this.cutToxics.set(siteKey(site), false);
  }

  async healAll(): Promise<void> {
    // POST /reset: enable every proxy and remove every toxic, on every server.
    await Promise.all([...this.clients.values()].map((c) => c.reset()));
    this.cutToxics.clear();
    this.slowed.clear();
  }
}

function siteKey(site: CutSite): string {
  return `${site.proxy.api}\u0000${site.proxy.name}\u0000${site.toxic}`;
}

function streamKey(site: CutSite): string {
  return `${site.proxy.api}\u0000${site.proxy.name}\u0000${site.stream}`;
}

/** Set a toxic's toxicity through Toxiproxy's HTTP API (POST /proxies/{proxy}/toxics/{toxic}); it interrupts only that toxic. */
async function updateToxicity(api: string, proxyName: string, toxicName: string, toxicity: number): Promise<void> {
  const res = await fetch(`${api.replace(/\/$/, '')}/proxies/${encodeURIComponent(proxyName)}/toxics/${encodeURIComponent(toxicName)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ toxicity }),
  });
  if (!res.ok) throw new Error(`Toxiproxy ${api}: setting toxicity of ${toxicName} on ${proxyName} answered ${res.status}: ${await res.text()}`);
}

/**
 * Remove a toxic by name through Toxiproxy's HTTP API (DELETE /proxies/{proxy}/toxics/{toxic});
 * one that is not there (never added, or reset away) answers 404, which is fine. The client
 * library has no such call without fetching the toxic first.
 */
async function removeToxicIfPresent(api: string, proxyName: string, toxicName: string): Promise<void> {
  const res = await fetch(`${api.replace(/\/$/, '')}/proxies/${encodeURIComponent(proxyName)}/toxics/${encodeURIComponent(toxicName)}`, { method: 'DELETE' });
  if (!res.ok && res.status !== 404) throw new Error(`Toxiproxy ${api}: removing toxic ${toxicName} of ${proxyName} answered ${res.status}: ${await res.text()}`);
}

function linkKey(link: Link): string {
  return `${link.from}\u0000${link.to}`;
}

function toxicBody(t: LinkToxic): { type: LinkToxic['type']; toxicity: number; attributes: Record<string, number> } {
  switch (t.type) {
    case 'latency':
      return { type: 'latency', toxicity: 1, attributes: { latency: t.latencyMs, jitter: t.jitterMs } };
    case 'bandwidth':
      return { type: 'bandwidth', toxicity: 1, attributes: { rate: t.rateKBps } };
    case 'slicer':
      return { type: 'slicer', toxicity: 1, attributes: { average_size: t.averageSize, size_variation: t.sizeVariation, delay: t.delayUs } };
    case 'reset_peer':
      return { type: 'reset_peer', toxicity: t.toxicity, attributes: { timeout: t.timeoutMs } };
    case 'timeout':
      return { type: 'timeout', toxicity: t.toxicity, attributes: { timeout: t.timeoutMs } };
  }
}
