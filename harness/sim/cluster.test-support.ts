/**
 * Helpers for tests of simulated clusters: start one, find its leader, write and read keys
 * through the store's HTTP API over the simulated client link. All of it runs inside
 * `sim.run(...)`, in virtual time.
 */
import type { StatusBody } from '../../impl/node/testing/cluster.ts';
import { simClusterSpecs } from './cluster-args.ts';
import { Simulation, type SimulationOptions } from './simulation.ts';

/** The part of `/v1/status` these tests read (the body's type is the node tests'). */
export type Status = Pick<StatusBody, 'id' | 'role' | 'term' | 'leader' | 'commit' | 'applied'>;

export function newCluster(ids: readonly string[], options: SimulationOptions, extraArgs: readonly string[] = []): Simulation {
  const sim = new Simulation(options);
  for (const spec of simClusterSpecs(ids, extraArgs)) sim.addNode(spec);
  return sim;
}

export class TestClient {
  private seq = 0;
  private readonly http;

  constructor(
    private readonly sim: Simulation,
    readonly clientId: string,
    host = 'client',
  ) {
    this.http = sim.client(host);
  }

  async status(id: string): Promise<Status | null> {
    try {
      const r = await this.http.request({ method: 'GET', url: `http://${id}:8000/v1/status`, timeoutMs: 500 });
      return r.status === 200 ? (JSON.parse(r.body) as Status) : null;
    } catch {
      return null;
    }
  }

  /** The node every running member agrees leads, waiting up to `withinMs` of virtual time. */
  async leader(ids: readonly string[], withinMs = 10_000): Promise<string> {
    const deadline = this.sim.now + withinMs;
    while (this.sim.now < deadline) {
      const statuses = (await Promise.all(ids.map((id) => this.status(id)))).filter((s): s is Status => s !== null);
      const leaders = statuses.filter((s) => s.role === 'leader');
      if (leaders.length === 1 && statuses.every((s) => s.leader === leaders[0]!.id)) return leaders[0]!.id;
      await this.sim.clock.sleep(100);
    }
    throw new Error(`no agreed leader among ${ids.join(', ')} within ${withinMs} ms (t=${this.sim.now})`);
  }

  /** PUT key=value on `node`; resolves with the HTTP status and body (or the transport failure's code). */
  async put(node: string, key: string, value: unknown, timeoutMs = 2_000): Promise<{ readonly status: number | string; readonly body: unknown }> {
    const body = JSON.stringify({ key, value, clientId: this.clientId, seq: ++this.seq });
    try {
      const r = await this.http.request({ method: 'POST', url: `http://${node}:8000/v1/kv/put`, body, headers: { 'content-type': 'application/json' }, timeoutMs });
      return { status: r.status, body: JSON.parse(r.body) as unknown };
    } catch (e) {
      return { status: (e as { code: string }).code, body: null };
    }
  }

  /** A linearizable GET of `key` on `node`. */
  async get(node: string, key: string, timeoutMs = 2_000): Promise<{ readonly status: number | string; readonly body: { value?: unknown } | null }> {
    try {
      const r = await this.http.request({ method: 'GET', url: `http://${node}:8000/v1/kv/get?key=${encodeURIComponent(key)}`, timeoutMs });
      return { status: r.status, body: JSON.parse(r.body) as { value?: unknown } };
    } catch (e) {
      return { status: (e as { code: string }).code, body: null };
    }
  }
}
