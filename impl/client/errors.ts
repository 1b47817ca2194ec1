/**
 * Typed errors of the store client. Every error says whether the operation certainly did
 * not happen (`definite: true`) or may have happened (`definite: false`), as in Maelstrom
 * and Jepsen: when in doubt, indefinite. Record a definite failure as `fail` and an
 * indefinite one as `info`.
 */

export class StoreError extends Error {
  constructor(
    /** The API's error code (impl/API.md), or a client-side one: 'timeout', 'connection', 'bad-response', 'exhausted'. */
    readonly code: string,
    message: string,
    readonly definite: boolean,
    /** HTTP status, or null when no answer arrived. */
    readonly status: number | null = null,
    /** Id of the node that answered (or was being asked). */
    readonly node: string | null = null,
    /** Extra fields of the error body. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends StoreError {}
export class NotFoundError extends StoreError {}
export class TooLargeError extends StoreError {}

export class VersionConflictError extends StoreError {
  /** The key's version when the write was refused (0 if absent). */
  get currentVersion(): number {
    return typeof this.details['currentVersion'] === 'number' ? this.details['currentVersion'] : 0;
  }
}

export class KeyExistsError extends VersionConflictError {}

export class LeaseHeldError extends StoreError {
  get holder(): string | null {
    return typeof this.details['holder'] === 'string' ? this.details['holder'] : null;
  }
}

export class LeaseLostError extends StoreError {}

export interface LeaderHint {
  readonly id: string;
  readonly clientUrl: string | null;
}

export class NotLeaderError extends StoreError {
  get leaderHint(): LeaderHint | null {
    const h = this.details['leaderHint'];
    if (typeof h !== 'object' || h === null) return null;
    const { id, clientUrl } = h as { id?: unknown; clientUrl?: unknown };
    return typeof id === 'string' ? { id, clientUrl: typeof clientUrl === 'string' ? clientUrl : null } : null;
  }
}

export class NoLeaderError extends StoreError {}

export class CompactedError extends StoreError {
  get compactRevision(): number {
    return typeof this.details['compactRevision'] === 'number' ? this.details['compactRevision'] : 0;
  }
}

/** The operation may or may not have taken effect: timeouts, connection loss after sending, a lost exactly-once record. */
export class IndefiniteError extends StoreError {
  constructor(code: string, message: string, status: number | null = null, node: string | null = null, details: Readonly<Record<string, unknown>> = {}) {
    super(code, message, false, status, node, details);
  }
}

/** Build the typed error for an error answer `{"error":{code,message,definite,...}}`. */
export function errorFromAnswer(status: number, body: unknown, node: string | null): StoreError {
  const e = (typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined) as Record<string, unknown> | undefined;
  if (e === undefined || typeof e !== 'object' || typeof e['code'] !== 'string') {
    // Not our error shape: a proxy or a crash. We cannot know whether it happened.
    return new IndefiniteError('bad-response', `HTTP ${status} without an error body`, status, node);
  }
  const { code, message: rawMessage, definite: rawDefinite, ...details } = e;
  const message = typeof rawMessage === 'string' ? rawMessage : String(code);
  const definite = rawDefinite !== false;
  if (!definite) return new IndefiniteError(code as string, message, status, node, details);
  switch (code) {
    case 'bad-request':
      return new BadRequestError(code, message, true, status, node, details);
    case 'not-found':
      return new NotFoundError(code, message, true, status, node, details);
    case 'version-conflict':
      return new VersionConflictError(code, message, true, status, node, details);
    case 'key-exists':
      return new KeyExistsError(code, message, true, status, node, details);
    case 'lease-held':
      return new LeaseHeldError(code, message, true, status, node, details);
    case 'lease-lost':
      return new LeaseLostError(code, message, true, status, node, details);
    case 'not-leader':
      return new NotLeaderError(code, message, true, status, node, details);
    case 'no-leader':
      return new NoLeaderError(code, message, true, status, node, details);
    case 'too-large':
      return new TooLargeError(code, message, true, status, node, details);
    case 'compacted':
      return new CompactedError(code, message, true, status, node, details);
    default:
      return new StoreError(code as string, message, true, status, node, details);
  }
}
