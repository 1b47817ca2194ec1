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
 */
import { Toxiproxy } from 'toxiproxy-node-client';
import type { LinkProxy } from './topology.ts';
import type { Link, LinkToxic, NetworkControl } from './runtime.ts';

export class ToxiproxyLinks implements NetworkControl {
  private readonly clients = new Map<string, Toxiproxy>();
  private readonly byLink = new Map<string, LinkProxy>();

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

  async cut(link: Link): Promise<void> {
    const forward = this.proxyOf(link);
    const reverse = this.proxyOf({ from: link.to, to: link.from });
    const blackhole = { type: 'timeout' as const, toxicity: 1, attributes: { timeout: 0 } };
    // a's bytes on connections a opened to b ...
    await (await this.client(forward.api).get(forward.name)).addToxic({ name: `cut-${link.from}-${link.to}-up`, stream: 'upstream', ...blackhole });
    // ... and on connections b opened to a (a's answers travel downstream there).
    await (await this.client(reverse.api).get(reverse.name)).addToxic({ name: `cut-${link.from}-${link.to}-down`, stream: 'downstream', ...blackhole });
  }

  async heal(link: Link): Promise<void> {
    const forward = this.proxyOf(link);
    const reverse = this.proxyOf({ from: link.to, to: link.from });
    await removeToxicIfPresent(forward.api, forward.name, `cut-${link.from}-${link.to}-up`);
    await removeToxicIfPresent(reverse.api, reverse.name, `cut-${link.from}-${link.to}-down`);
  }

  async addToxic(link: Link, name: string, toxic: LinkToxic): Promise<void> {
    const p = this.proxyOf(link);
    const proxy = await this.client(p.api).get(p.name);
    for (const stream of ['upstream', 'downstream'] as const) {
      await proxy.addToxic({ name: `${name}-${stream}`, stream, ...toxicBody(toxic) });
    }
  }

  async healAll(): Promise<void> {
    // POST /reset: enable every proxy and remove every toxic, on every server.
    await Promise.all([...this.clients.values()].map((c) => c.reset()));
  }
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
