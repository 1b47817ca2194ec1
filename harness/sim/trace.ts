/**
 * The run's trace: every delivered peer message (its exact bytes), every client response
 * (its exact body), and every fault, in the order they happened, folded into one SHA-256.
 * Two runs of one seed must give the same hash; a differing hash means something escaped
 * the simulation (README.md, "Determinism"). The last lines are kept readable for diagnosis.
 */
import { createHash, type Hash } from 'node:crypto';

/** Text is hashed in chunks of about this many characters (one native call per chunk, not per record). */
const FLUSH_CHARS = 64 * 1024;

export class Trace {
  private hash: Hash = createHash('sha256');
  private pending = '';
  private digestCache: string | null = null;
  private readonly recent: string[] = [];
  private next = 0;
  /** Records so far. */
  count = 0;

  /** `keepLines`: how many recent records to keep as text (0: none). */
  constructor(private readonly keepLines = 200) {}

  /** Fold one record in: a text line and, optionally, the exact bytes it carried. */
  record(line: string, bytes?: Uint8Array): void {
    this.digestCache = null;
    this.count++;
    this.pending += line;
    this.pending += '\n';
    if (bytes !== undefined) {
      this.flush();
      this.hash.update(bytes);
    } else if (this.pending.length > FLUSH_CHARS) {
      this.flush();
    }
    if (this.keepLines > 0) {
      if (this.recent.length < this.keepLines) this.recent.push(line);
      else this.recent[this.next] = line;
      this.next = (this.next + 1) % this.keepLines;
    }
  }

  /** The hash of everything recorded so far (hex). */
  digest(): string {
    if (this.digestCache === null) {
      this.flush();
      this.digestCache = this.hash.copy().digest('hex');
    }
    return this.digestCache;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.hash.update(this.pending);
    this.pending = '';
  }

  /** The most recent records, oldest first. */
  lastLines(): string[] {
    if (this.recent.length < this.keepLines) return [...this.recent];
    return [...this.recent.slice(this.next), ...this.recent.slice(0, this.next)];
  }
}
