/**
 * Little-endian binary writer and bounds-checked reader shared by the WAL, the snapshot file
 * and the peer transport codec. Integers that the Raft types hold as JS numbers (terms,
 * indexes) are written as u64 split into two u32 halves, so any safe integer round-trips
 * without BigInt.
 */
import * as zlib from 'node:zlib';

const TWO_32 = 0x1_0000_0000;

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + extra) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** A non-negative safe integer as u64. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 field must be a non-negative safe integer, got ${v}`);
    this.ensure(8);
    this.buf.writeUInt32LE(v % TWO_32, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.pos + 4);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** u32 length then the bytes. */
  lenBytes(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }

  /** u32 byte length then UTF-8. */
  str(s: string): this {
    // Write UTF-8 in place: at most 3 bytes per UTF-16 unit, then back-fill the length.
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
    return this;
  }

  /** A copy-free view of what was written (valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Thrown when a buffer ends early or holds a value out of range; says which field and where. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class BinaryReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.end) {
      throw new DecodeError(`${field}: needs ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): number {
    this.need(8, field);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) throw new DecodeError(`${field}: u64 value exceeds 2^53 at offset ${this.pos - 8}`);
    return v;
  }

  /** `n` bytes, copied so the result does not pin the (possibly large) source buffer. */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    // ArrayBuffer.slice copies without creating an intermediate Buffer view (much cheaper per entry).
    const start = this.buf.byteOffset + this.pos;
    const out = new Uint8Array(this.buf.buffer.slice(start, start + n));
    this.pos += n;
    return out;
  }

  lenBytes(field: string): Uint8Array {
    return this.bytes(this.u32(`${field} length`), field);
  }

  /**
   * `n` bytes as a view sharing the source's memory: no copy. Only for sources the caller
   * owns whole (see decodeMessage), so a view cannot pin an unrelated larger buffer.
   */
  view(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }

  lenView(field: string): Uint8Array {
    return this.view(this.u32(`${field} length`), field);
  }

  str(field: string): string {
    const n = this.u32(`${field} length`);
    this.need(n, field);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  expectEnd(what: string): void {
    if (this.pos !== this.end) throw new DecodeError(`${what}: ${this.end - this.pos} unexpected trailing bytes at offset ${this.pos}`);
  }
}

// ---- CRC-32 (IEEE 802.3, the polynomial zlib uses) ----

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven CRC-32; the fallback when node:zlib has no crc32 (Node < 20.15). */
export function crc32Table(data: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// zlib.crc32 is native and about 20x faster; both compute the same function.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32 ?? null;

/** CRC-32 of `data`, continuing from `seed` (the CRC of the bytes before it). */
export function crc32(data: Uint8Array, seed = 0): number {
  return nativeCrc32 ? nativeCrc32(data, seed) >>> 0 : crc32Table(data, seed);
}
