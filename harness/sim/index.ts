/** The simulation kernel's public surface (README.md in this folder). */
export { Simulation, SimNode, DEFAULT_EPOCH_MS } from './simulation.ts';
export type { SimulationOptions, SimNodeSpec, SimNodeState, KillOptions, ClockBounds, SimHttpClient } from './simulation.ts';
export { SimNetwork, SimHttpError, DEFAULT_LINK } from './sim-network.ts';
export type { LinkSettings, NetworkOptions, WireMode, ClientFailure, ClientRequest, ClientResponse, StreamOutcome } from './sim-network.ts';
export { SimDisk, DEFAULT_DISK_LATENCY } from './sim-fs.ts';
export type { DiskOptions, DiskLatency, CrashReport } from './sim-fs.ts';
export { Scheduler, SimProcess, SimulationStalled } from './scheduler.ts';
export type { RunLimits, ProcessState } from './scheduler.ts';
export { SimRandom } from './random.ts';
export type { Seed } from './random.ts';
export { SimulationViolation } from './guard.ts';
export type { GuardOptions } from './guard.ts';
export { Trace } from './trace.ts';
export { simClusterSpecs, SIM_CLIENT_PORT, SIM_PEER_PORT, SIM_SECRET } from './cluster-args.ts';
