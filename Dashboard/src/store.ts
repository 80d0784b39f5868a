// The fleet's live state, outside React: one mutable row per driver, updated in place by position batches.
// The map's canvas layer reads it directly; React components subscribe to a version number, so a batch of
// 1,000 positions costs one list render, not 1,000.
import type { Activity, CompactPosition, Driver, EnrichedPosition } from "./types.ts";
import { toMillis } from "./types.ts";

export interface DriverRow {
  id: string;
  name: string;
  /** Lower-cased `name id`, for sorting and search without locale-aware comparisons per batch. */
  sortKey: string;
  plate: string;
  lat: number;
  lng: number;
  heading: number;
  speed: number;
  activity: Activity;
  fixTime: number;
  etaToNext: number;
  nextVisitId: string | undefined;
  late: boolean;
  hasPosition: boolean;
}

type Listener = () => void;

export class FleetStore {
  readonly rows = new Map<string, DriverRow>();
  version = 0;
  private listeners = new Set<Listener>();

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  private row(id: string): DriverRow {
    let row = this.rows.get(id);
    if (!row) {
      row = {
        id,
        name: id,
        sortKey: id,
        plate: "",
        lat: NaN,
        lng: NaN,
        heading: 0,
        speed: 0,
        activity: "offline",
        fixTime: NaN,
        etaToNext: NaN,
        nextVisitId: undefined,
        late: false,
        hasPosition: false,
      };
      this.rows.set(id, row);
    }
    return row;
  }

  /** Names and plates from `GET /api/drivers` (active drivers only). */
  setDrivers(drivers: Driver[]): void {
    for (const d of drivers) {
      if (d.status !== "active") continue;
      const row = this.row(d.id);
      this.rename(row, d.name);
      row.plate = d.vehiclePlate ?? "";
    }
    this.bump();
  }

  /** `initial-state`: every active driver's latest enriched position. */
  applyInitial(positions: EnrichedPosition[]): void {
    for (const p of positions) this.applyEnriched(p, false);
    this.bump();
  }

  applyEnriched(p: EnrichedPosition, notify = true): void {
    const row = this.row(p.driverId);
    if (p.driverName && p.driverName !== row.name) this.rename(row, p.driverName);
    row.lat = p.latitude;
    row.lng = p.longitude;
    row.heading = p.heading;
    row.speed = p.speedKmh;
    row.activity = p.activity;
    row.fixTime = toMillis(p.fixTime);
    row.etaToNext = toMillis(p.etaToNext);
    row.nextVisitId = p.nextVisitId;
    row.late = p.late;
    row.hasPosition = true;
    if (notify) this.bump();
  }

  /** A batch of compact positions (latest per driver); returns how many were applied. */
  applyCompact(batch: CompactPosition[]): number {
    let applied = 0;
    for (const p of batch) {
      const row = this.row(p.driverId);
      const fix = toMillis(p.fixTime);
      if (row.hasPosition && fix < row.fixTime) continue; // an older fix arriving late
      row.lat = p.lat;
      row.lng = p.lng;
      row.heading = p.heading;
      row.speed = p.speed;
      row.activity = p.activity;
      row.fixTime = fix;
      row.etaToNext = toMillis(p.etaToNext);
      row.nextVisitId = p.nextVisitId;
      row.late = p.late;
      row.hasPosition = true;
      applied++;
    }
    return applied;
  }

  private rename(row: DriverRow, name: string): void {
    row.name = name;
    row.sortKey = `${name.toLowerCase()} ${row.id}`;
  }

  private countsCache: { version: number; counts: Counts } | null = null;

  /** Counts per status, computed at most once per version. */
  counts(): Counts {
    if (this.countsCache?.version !== this.version) {
      this.countsCache = { version: this.version, counts: countRows(this.rows.values()) };
    }
    return this.countsCache.counts;
  }

  setActivity(driverId: string, activity: Activity): void {
    const row = this.rows.get(driverId);
    if (row && row.activity !== activity) {
      row.activity = activity;
      this.bump();
    }
  }

  bump(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}

export interface Counts {
  total: number;
  moving: number;
  stopped: number;
  at_customer: number;
  offline: number;
  late: number;
}

export function countRows(rows: Iterable<DriverRow>): Counts {
  const c: Counts = { total: 0, moving: 0, stopped: 0, at_customer: 0, offline: 0, late: 0 };
  for (const r of rows) {
    c.total++;
    c[r.activity]++;
    if (r.late) c.late++;
  }
  return c;
}
