/** The authenticated peer transport: see README.md for the wire format. */
export { PeerTransport, parsePeerAddress, encodeFrame, FRAME_VERSION } from './peer-transport.ts';
export type { PeerAddress, PeerTransportOptions, TransportCounters, TransportLogger } from './peer-transport.ts';
export { encodeMessage, decodeMessage, MESSAGE_TYPES, CODEC_VERSION } from './codec.ts';
