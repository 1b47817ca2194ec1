/**
 * The store's replicated commands: what one 'normal' log entry means.
 *
 * Wire format (version 1): one UTF-8 JSON object per entry,
 *   {"v":1,"op":"put","clientId":"c-1","seq":7,"key":"a","value":{...},"expectedVersion":3}
 * Every client write carries (clientId, seq) for exactly-once application (LogCabin's
 * client sessions, thesis §6.3). `lease-expire` is internal: only the leader's lessor
 * proposes it, and it carries no client id.
 *
 * The same validators check HTTP bodies before proposing (so a client gets a 400 naming the
 * field) and decoded entries when applying (so a malformed entry yields the same error result
 * on every replica instead of an exception).
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export const COMMAND_FORMAT_VERSION = 1;

export const LIMITS = {
  keyMaxLength: 1024,
  clientIdMaxLength: 64,
  leaseNameMaxLength: 256,
  holderMaxLength: 256,
  leaseTtlMinMs: 200,
  leaseTtlMaxMs: 86_400_000,
  txnMaxOps: 128,
} as const;

export interface RequestId {
  readonly clientId: string;
  readonly seq: number;
}

/** An op of a txn that writes its key. */
export type TxnWriteOp =
  | { readonly op: 'create'; readonly key: string; readonly value: JsonValue }
  | { readonly op: 'put'; readonly key: string; readonly value: JsonValue; readonly expectedVersion?: number }
  | { readonly op: 'delete'; readonly key: string; readonly expectedVersion?: number };

/**
 * One op of a txn. Besides writes, as etcd's txn: `get` reads the key at the txn's point in
 * the log, and `compare` is a precondition that writes nothing (the key must be at
 * `expectedVersion`, 0 = absent), so a read-modify-write over several keys can commit only
 * if none of the keys it read changed.
 */
export type TxnOp =
  | TxnWriteOp
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'compare'; readonly key: string; readonly expectedVersion: number };

export type ClientCommand =
  | ({ readonly op: 'create'; readonly key: string; readonly value: JsonValue } & RequestId)
  | ({ readonly op: 'put'; readonly key: string; readonly value: JsonValue; readonly expectedVersion?: number } & RequestId)
  | ({ readonly op: 'delete'; readonly key: string; readonly expectedVersion?: number } & RequestId)
  | ({ readonly op: 'txn'; readonly ops: readonly TxnOp[] } & RequestId)
  | ({ readonly op: 'lease-acquire'; readonly name: string; readonly holder: string; readonly ttlMs: number } & RequestId)
  | ({ readonly op: 'lease-renew'; readonly name: string; readonly holder: string; readonly token: number } & RequestId)
  | ({ readonly op: 'lease-release'; readonly name: string; readonly holder: string; readonly token: number } & RequestId);

/**
 * Internal: expire the lease `name` if it is still the grant `token` last renewed at
 * `renewRevision`. The renew revision makes an expiry that raced with a renew a no-op: the
 * renew's holder was promised a fresh TTL (impl/API.md, "Lease guarantee").
 */
export interface LeaseExpireCommand {
  readonly op: 'lease-expire';
  readonly name: string;
  readonly token: number;
  readonly renewRevision: number;
}

export type Command = ClientCommand | LeaseExpireCommand;
export type CommandOp = Command['op'];

/** A request body or entry that does not describe a valid command; `message` names the field. */
export class CommandValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandValidationError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(JSON.stringify({ v: COMMAND_FORMAT_VERSION, ...command }));
}

/** Decode an entry's payload. Returns a validation error instead of throwing. */
export function decodeCommand(data: Uint8Array): Command | CommandValidationError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    return new CommandValidationError('entry is not UTF-8 JSON');
  }
  if (!isObject(parsed)) return new CommandValidationError('entry is not a JSON object');
  if (parsed['v'] !== COMMAND_FORMAT_VERSION) {
    return new CommandValidationError(`entry has unsupported format version ${JSON.stringify(parsed['v'])} (expected ${COMMAND_FORMAT_VERSION})`);
  }
  const op = parsed['op'];
  if (op === 'lease-expire') return validateCommandBody(op, parsed);
  if (typeof op !== 'string' || !isClientOp(op)) return new CommandValidationError(`entry has unknown op ${JSON.stringify(op)}`);
  return validateCommandBody(op, parsed);
}

const CLIENT_OPS = ['create', 'put', 'delete', 'txn', 'lease-acquire', 'lease-renew', 'lease-release'] as const;
export type ClientOp = (typeof CLIENT_OPS)[number];
function isClientOp(s: string): s is ClientOp {
  return (CLIENT_OPS as readonly string[]).includes(s);
}

/**
 * Validate a parsed body as the command `op` (HTTP route or decoded entry). Unknown fields
 * are ignored. Returns the normalized command with only the known fields.
 */
export function validateCommandBody(op: CommandOp, body: unknown): Command | CommandValidationError {
  try {
    if (!isObject(body)) throw new CommandValidationError('body must be a JSON object');
    switch (op) {
      case 'create':
        return { op, ...requestId(body), key: key(body, 'key'), value: value(body, 'value') };
      case 'put': {
        const expectedVersion = optionalVersion(body, 'expectedVersion');
        return {
          op,
          ...requestId(body),
          key: key(body, 'key'),
          value: value(body, 'value'),
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
        };
      }
      case 'delete': {
        const expectedVersion = optionalVersion(body, 'expectedVersion');
        return { op, ...requestId(body), key: key(body, 'key'), ...(expectedVersion === undefined ? {} : { expectedVersion }) };
      }
      case 'txn':
        return { op, ...requestId(body), ops: txnOps(body) };
      case 'lease-acquire':
        return {
          op,
          ...requestId(body),
          name: boundedString(body, 'name', LIMITS.leaseNameMaxLength),
          holder: boundedString(body, 'holder', LIMITS.holderMaxLength),
          ttlMs: integer(body, 'ttlMs', LIMITS.leaseTtlMinMs, LIMITS.leaseTtlMaxMs),
        };
      case 'lease-renew':
      case 'lease-release':
        return {
          op,
          ...requestId(body),
          name: boundedString(body, 'name', LIMITS.leaseNameMaxLength),
          holder: boundedString(body, 'holder', LIMITS.holderMaxLength),
          token: integer(body, 'token', 1, Number.MAX_SAFE_INTEGER),
        };
      case 'lease-expire':
        return {
          op,
          name: boundedString(body, 'name', LIMITS.leaseNameMaxLength),
          token: integer(body, 'token', 1, Number.MAX_SAFE_INTEGER),
          renewRevision: integer(body, 'renewRevision', 1, Number.MAX_SAFE_INTEGER),
        };
    }
  } catch (e) {
    if (e instanceof CommandValidationError) return e;
    throw e;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function requestId(body: Record<string, unknown>): RequestId {
  return {
    clientId: boundedString(body, 'clientId', LIMITS.clientIdMaxLength),
    seq: integer(body, 'seq', 1, Number.MAX_SAFE_INTEGER),
  };
}

function boundedString(body: Record<string, unknown>, field: string, maxLength: number, where = ''): string {
  const v = body[field];
  if (v === undefined) throw new CommandValidationError(`${where}${field} is required`);
  if (typeof v !== 'string') throw new CommandValidationError(`${where}${field} must be a string, got ${typeName(v)}`);
  if (v.length === 0 || v.length > maxLength) {
    throw new CommandValidationError(`${where}${field} must be 1..${maxLength} characters, got ${v.length}`);
  }
  return v;
}

function key(body: Record<string, unknown>, field: string, where = ''): string {
  return boundedString(body, field, LIMITS.keyMaxLength, where);
}

function value(body: Record<string, unknown>, field: string, where = ''): JsonValue {
  if (!(field in body) || body[field] === undefined) throw new CommandValidationError(`${where}${field} is required`);
  // JSON.parse only produces JSON values, so anything present is one.
  return body[field] as JsonValue;
}

function integer(body: Record<string, unknown>, field: string, min: number, max: number, where = ''): number {
  const v = body[field];
  if (v === undefined) throw new CommandValidationError(`${where}${field} is required`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new CommandValidationError(`${where}${field} must be an integer, got ${typeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
  }
  if (v < min || v > max) throw new CommandValidationError(`${where}${field} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function optionalVersion(body: Record<string, unknown>, field: string, where = ''): number | undefined {
  if (body[field] === undefined || body[field] === null) return undefined;
  return integer(body, field, 0, Number.MAX_SAFE_INTEGER, where);
}

function txnOps(body: Record<string, unknown>): TxnOp[] {
  const raw = body['ops'];
  if (raw === undefined) throw new CommandValidationError('ops is required');
  if (!Array.isArray(raw)) throw new CommandValidationError(`ops must be an array, got ${typeName(raw)}`);
  if (raw.length === 0 || raw.length > LIMITS.txnMaxOps) {
    throw new CommandValidationError(`ops must hold 1..${LIMITS.txnMaxOps} operations, got ${raw.length}`);
  }
  const seen = new Map<string, number>();
  return raw.map((item: unknown, i): TxnOp => {
    const where = `ops[${i}].`;
    if (!isObject(item)) throw new CommandValidationError(`ops[${i}] must be an object, got ${typeName(item)}`);
    const k = key(item, 'key', where);
    const first = seen.get(k);
    // One op per key keeps "all preconditions checked first" meaningful (etcd forbids it too).
    if (first !== undefined) throw new CommandValidationError(`${where}key duplicates ops[${first}].key ${JSON.stringify(k)}`);
    seen.set(k, i);
    const op = item['op'];
    switch (op) {
      case 'create':
        return { op, key: k, value: value(item, 'value', where) };
      case 'put': {
        const expectedVersion = optionalVersion(item, 'expectedVersion', where);
        return { op, key: k, value: value(item, 'value', where), ...(expectedVersion === undefined ? {} : { expectedVersion }) };
      }
      case 'delete': {
        const expectedVersion = optionalVersion(item, 'expectedVersion', where);
        return { op, key: k, ...(expectedVersion === undefined ? {} : { expectedVersion }) };
      }
      case 'get':
        return { op, key: k };
      case 'compare':
        return { op, key: k, expectedVersion: integer(item, 'expectedVersion', 0, Number.MAX_SAFE_INTEGER, where) };
      default:
        throw new CommandValidationError(`${where}op must be "create", "put", "delete", "get" or "compare", got ${JSON.stringify(op) ?? 'nothing'}`);
    }
  });
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
