/**
 * The Platform of a real store-node process: Node's clocks and timers, crypto randomness,
 * node:fs (impl/storage/node-fs.ts), TCP peers (impl/transport/peer-transport.ts) and
 * node:http (impl/store/server.ts). With storage, transport and HTTP adapters, the only
 * place under impl/node allowed to touch them (eslint.config.js).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nodeFs } from '../storage/node-fs.ts';
import { serveHttp } from '../store/server.ts';
import { PeerTransport } from '../transport/peer-transport.ts';
import type { Platform } from './platform.ts';
import { realClock, realRandom, realTimers } from './real-time.ts';

export { realClock, realRandom, realTimers };

/**
 * The real platform. Event-loop delay is measured from here on (one thread serves HTTP,
 * consensus and storage completions, so any long task delays every request).
 */
export function createRealPlatform(): Platform {
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  return {
    clock: realClock,
    timers: realTimers,
    random: realRandom,
    fs: nodeFs,
    peers: { open: (options) => PeerTransport.start(options) },
    http: { listen: (handler, port, host) => serveHttp(handler, { port, host }) },
    loopDelay: () => ({ p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 }),
  };
}
