/**
 * NetworkControl over one Toxiproxy server, through toxiproxy-node-client. Shared by the
 * docker and local runtimes: they differ only in where the server runs and what the proxies'
 * upstreams are called.
 */
import { Toxiproxy } from 'toxiproxy-node-client';
import type { ProxySpec } from './topology.ts';
import { peerProxyName } from './topology.ts';
import type { Link, LinkToxic, NetworkControl } from './runtime.ts';

export class ToxiproxyLinks implements NetworkControl {
  readonly client: Toxiproxy;

  constructor(
    readonly apiUrl: string,
    private readonly proxies: ReadonlyMap<string, ProxySpec>,
  ) {
    this.client = new Toxiproxy(apiUrl);
  }

  /** Create every proxy (idempotent: Toxiproxy's populate replaces proxies of the same name). */
  async populate(): Promise<void> {
    await this.client.populate([...this.proxies.values()].map((p) => ({ ...p, enabled: true })));
  }

  private spec(link: Link): ProxySpec {
    const name = peerProxyName(link);
    const spec = this.proxies.get(name);
    if (spec === undefined) throw new Error(`no proxy for link ${link.from}→${link.to}`);
    return spec;
  }

  async cut(link: Link): Promise<void> {
    const spec = this.spec(link);
    const proxy = await this.client.get(spec.name);
    await proxy.update({ enabled: false, listen: spec.listen, upstream: spec.upstream });
  }

  async addToxic(link: Link, name: string, toxic: LinkToxic): Promise<void> {
    const proxy = await this.client.get(this.spec(link).name);
    for (const stream of ['upstream', 'downstream'] as const) {
      await proxy.addToxic({ name: `${name}-${stream}`, stream, ...toxicBody(toxic) });
    }
  }

  async healAll(): Promise<void> {
    // POST /reset: enable every proxy and remove every toxic.
    await this.client.reset();
  }
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
