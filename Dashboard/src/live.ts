// The Socket.io connection to the tracking gateway: batched positions (`batchMs`), detailed positions of the
// subscribed driver, visit events, alerts; connection state with reconnect and state recovery; and the
// per-batch main-thread cost (performance API) that the browser tests and the measurement script read.
import type { Alert, CompactPosition, DriverEvent, EnrichedPosition, HistoryPoint, VisitEvent } from "./types.ts";
import type { FleetStore } from "./store.ts";

export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "connected"; recovered: boolean; transport: string }
  | { kind: "reconnecting"; attempt: number; reason: string }
  | { kind: "disconnected"; reason: string }
  | { kind: "refused"; reason: string };

export interface LiveHandlers {
  state(state: ConnectionState): void;
  batch(applied: number): void;
  detailed(p: EnrichedPosition): void;
  visit(e: VisitEvent): void;
  alert(a: Alert): void;
  driverEvent(e: DriverEvent): void;
}

/** Bounded record of batch costs, exposed as `window.__dashboardMetrics` for tests and measurements. */
export class BatchMetrics {
  durations: number[] = [];
  sizes: number[] = [];
  batches = 0;
  positions = 0;
  lastBatchAt = 0;
  private readonly limit = 4000;

  record(ms: number, size: number): void {
    this.batches++;
    this.positions += size;
    this.lastBatchAt = Date.now();
    this.durations.push(ms);
    this.sizes.push(size);
    if (this.durations.length > this.limit) {
      this.durations.splice(0, this.durations.length - this.limit);
      this.sizes.splice(0, this.sizes.length - this.limit);
    }
  }

  reset(): void {
    this.durations = [];
    this.sizes = [];
  }

  summary(): { count: number; p50: number; p95: number; max: number; meanSize: number } {
    const sorted = [...this.durations].sort((a, b) => a - b);
    const q = (p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
    const meanSize = this.sizes.length ? this.sizes.reduce((a, b) => a + b, 0) / this.sizes.length : 0;
    return { count: sorted.length, p50: q(0.5), p95: q(0.95), max: sorted[sorted.length - 1] ?? NaN, meanSize };
  }
}

export class LiveConnection {
  readonly socket: Socket;
  private subscribedDriver: string | null = null;
  private pending: CompactPosition[] = [];
  private flushScheduled = false;

  constructor(
    token: string,
    private readonly store: FleetStore,
    private readonly handlers: LiveHandlers,
    private readonly metrics: BatchMetrics,
    /** Runs after the store changed, inside the measured span (canvas draw, list render). */
    private readonly afterBatch: () => void,
  ) {
    this.socket = io(location.origin, {
      auth: { token, batchMs: 1000 },
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
    });
    const s = this.socket;
    handlers.state({ kind: "connecting" });
    s.on("connect", () => {
      handlers.state({
        kind: "connected",
        recovered: s.recovered,
        transport: s.io.engine?.transport?.name ?? "",
      });
      // Rooms are per socket: after a reconnect that did not recover the session, join again.
      if (this.subscribedDriver && !s.recovered) this.emitAck("subscribe-driver", { driverId: this.subscribedDriver });
    });
    s.on("disconnect", (reason: string) => {
      if (reason === "io client disconnect") handlers.state({ kind: "disconnected", reason: "signed out" });
      else if (reason === "io server disconnect") handlers.state({ kind: "disconnected", reason: "closed by the server" });
      else handlers.state({ kind: "reconnecting", attempt: 0, reason });
    });
    s.on("connect_error", (err: Error) => {
      // A refusal by the server's auth check ends the automatic retries (socket.active is false then).
      if (!s.active) handlers.state({ kind: "refused", reason: err.message });
      else handlers.state({ kind: "reconnecting", attempt: 0, reason: err.message });
    });
    s.io.on("reconnect_attempt", (attempt: number) => handlers.state({ kind: "reconnecting", attempt, reason: "retrying" }));
    s.on("initial-state", (payload: { positions?: EnrichedPosition[] }) => {
      this.measure(payload.positions?.length ?? 0, () => this.store.applyInitial(payload.positions ?? []));
    });
    s.on("driver-positions", (batch: CompactPosition[]) => {
      if (!Array.isArray(batch)) return;
      this.measure(batch.length, () => {
        const n = this.store.applyCompact(batch);
        this.store.bump();
        handlers.batch(n);
      });
    });
    // Without batching (an older gateway), single positions are coalesced into one batch per frame.
    s.on("driver-position", (p: CompactPosition) => {
      this.pending.push(p);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => {
          this.flushScheduled = false;
          const batch = this.pending;
          this.pending = [];
          this.measure(batch.length, () => {
            const n = this.store.applyCompact(batch);
            this.store.bump();
            handlers.batch(n);
          });
        }, 250);
      }
    });
    s.on("driver-position-detailed", (p: EnrichedPosition) => handlers.detailed(p));
    s.on("visit-event", (e: VisitEvent) => handlers.visit(e));
    s.on("alert", (a: Alert) => handlers.alert(a));
    s.on("driver-event", (e: DriverEvent) => handlers.driverEvent(e));
  }

  private measure(size: number, work: () => void): void {
    const start = performance.now();
    work();
    this.afterBatch();
    const end = performance.now();
    this.metrics.record(end - start, size);
    try {
      performance.measure("positions-batch", { start, end, detail: { size } });
    } catch (_) {
      // measure with options is missing in very old browsers
    }
    // Keep the performance timeline bounded over a day of batches.
    if (this.metrics.batches % 500 === 0) performance.clearMeasures("positions-batch");
  }

  /** Emits with an acknowledgement; resolves the server's `{ok: true, ...}` or rejects with its error. */
  emitAck<T>(event: string, payload: unknown, timeoutMs = 10000): Promise<T> {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeoutMs).emit(event, payload, (err: Error | null, answer: { ok: boolean; error?: string }) => {
        if (err) reject(new Error(`${event}: no answer within ${timeoutMs / 1000} s`));
        else if (!answer || !answer.ok) reject(new Error(answer?.error ?? `${event} failed`));
        else resolve(answer as unknown as T);
      });
    });
  }

  async follow(driverId: string | null): Promise<void> {
    const previous = this.subscribedDriver;
    if (previous === driverId) return;
    this.subscribedDriver = driverId;
    if (previous) this.emitAck("unsubscribe-driver", { driverId: previous }).catch(() => {});
    if (driverId) await this.emitAck("subscribe-driver", { driverId });
  }

  async history(driverId: string, from: number, to: number, maxPoints: number): Promise<HistoryPoint[]> {
    const answer = await this.emitAck<{ points: HistoryPoint[] }>("get-route-history", { driverId, from, to, maxPoints }, 20000);
    return answer.points ?? [];
  }

  reconnect(): void {
    this.socket.connect();
  }

  close(): void {
    this.socket.disconnect();
  }
}
