/**
 * The command lines of a simulated store cluster: what a system plugin would build for the
 * sim runtime (host = node id, one client and one peer port, data in /data/<id> on each
 * node's own simulated disk). Tests and the benchmark use it; a SimRuntime passes the system
 * plugin's own command lines instead.
 */
import type { SimNodeSpec } from './simulation.ts';

export const SIM_CLIENT_PORT = 8000;
export const SIM_PEER_PORT = 7000;
export const SIM_SECRET = 'sim-cluster-secret';

export function simClusterSpecs(ids: readonly string[], extraArgs: readonly string[] = []): SimNodeSpec[] {
  return ids.map((id) => {
    const others = ids.filter((o) => o !== id);
    return {
      id,
      args: [
        '--id', id,
        '--peers', others.map((o) => `${o}=${o}:${SIM_PEER_PORT}`).join(','),
        '--peer-client-urls', others.map((o) => `${o}=http://${o}:${SIM_CLIENT_PORT}`).join(','),
        '--advertise-client-url', `http://${id}:${SIM_CLIENT_PORT}`,
        '--data-dir', `/data/${id}`,
        '--client-host', '0.0.0.0',
        '--client-port', String(SIM_CLIENT_PORT),
        '--peer-host', '0.0.0.0',
        '--peer-port', String(SIM_PEER_PORT),
        '--cluster-secret', SIM_SECRET,
        ...extraArgs,
      ],
    };
  });
}
