// Wire shapes of the REST API (timestamps ISO-8601 strings) and of the Socket.io gateway (the domain's Codable
// JSON: timestamps as epoch milliseconds). `toMillis` accepts both, so either transport can carry any shape.

export type Activity = "moving" | "stopped" | "at_customer" | "offline";
export type Time = number | string;

/** `driver-position` / `driver-positions` item (PushFanout.CompactPosition). */
export interface CompactPosition {
  driverId: string;
  lat: number;
  lng: number;
  speed: number;
  heading: number;
  activity: Activity;
  fixTime: Time;
  nextVisitId?: string;
  etaToNext?: Time;
  late: boolean;
}

export interface StopETA {
  visitId: string;
  customerId: string;
  sequenceNumber: number;
  eta: Time;
  late: boolean;
}

/** `initial-state` items and `driver-position-detailed` (Domain.EnrichedPosition). */
export interface EnrichedPosition {
  tenantId: string;
  driverId: string;
  deviceId: string;
  driverName: string;
  fixTime: Time;
  latitude: number;
  longitude: number;
  speedKmh: number;
  smoothedSpeedKmh: number;
  heading: number;
  batteryLevel?: number;
  ignition?: boolean;
  activity: Activity;
  routeId?: string;
  currentVisitId?: string;
  nextVisitId?: string;
  nextCustomerId?: string;
  nextCustomerName?: string;
  distanceToNextMeters?: number;
  etaToNext?: Time;
  late: boolean;
  completedStops: number;
  totalStops: number;
  remainingStops: StopETA[];
}

export type VisitStatus = "pending" | "arrived" | "in_progress" | "completed" | "failed" | "skipped" | "cancelled";

export interface VisitEvent {
  kind: "arrived" | "departed" | "started" | "completed" | "failed" | "skipped" | "cancelled";
  tenantId: string;
  visitId: string;
  routeId: string;
  driverId: string;
  customerId: string;
  at: Time;
  status: VisitStatus;
  outOfSequence: boolean;
}

export interface DriverEvent {
  kind: string;
  tenantId: string;
  driverId: string;
  at: Time;
  detail?: string;
}

export interface Alert {
  kind: string;
  tenantId: string;
  driverId: string;
  at: Time;
  message: string;
  value?: number;
  visitId?: string;
  customerId?: string;
}

export interface HistoryPoint {
  fixTime: Time;
  latitude: number;
  longitude: number;
  speedKmh: number;
  heading: number;
  routeId?: string;
  visitId?: string;
}

export interface Driver {
  id: string;
  tenantId: string;
  deviceId: string;
  name: string;
  phone?: string;
  vehiclePlate?: string;
  vehicleType: string;
  status: "active" | "inactive";
}

export interface Customer {
  id: string;
  name: string;
  address?: string;
  latitude: number;
  longitude: number;
  geofenceRadiusMeters: number;
  customerType?: string;
}

export interface PlannedVisit {
  id: string;
  routeId: string;
  driverId: string;
  customerId: string;
  sequenceNumber: number;
  visitType: string;
  timeWindow?: { start: Time; end: Time };
  serviceDurationSeconds: number;
  status: VisitStatus;
  arrivedAt?: Time;
  startedAt?: Time;
  departedAt?: Time;
  completedAt?: Time;
  outOfSequence: boolean;
}

export interface Route {
  id: string;
  driverId: string;
  scheduledDate: string;
  status: string;
  totalStops: number;
  completedStops: number;
}

export interface RouteDetails {
  route: Route;
  visits: PlannedVisit[];
}

export interface DashboardConfig {
  tiles?: { url: string; attribution: string };
  basemap: boolean;
  devSignIn: boolean;
  devTenantId?: string;
}

export interface Basemap {
  tenantId: string;
  center: [number, number];
  bounds: [[number, number], [number, number]];
  streets: [number, number, number, number][];
  depots: [number, number][];
}

/** Epoch milliseconds of a wire timestamp (number = ms, string = ISO-8601); NaN when absent or unreadable. */
export function toMillis(t: Time | undefined | null): number {
  if (t === undefined || t === null) return NaN;
  if (typeof t === "number") return t;
  return Date.parse(t);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const clockSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** `08:15`, or an en dash when unknown. */
export function formatClock(t: Time | undefined | null, seconds = false): string {
  const ms = toMillis(t);
  if (!Number.isFinite(ms)) return "–";
  return (seconds ? clockSeconds : clock).format(new Date(ms));
}

/** `in 12 min`, `3 min ago`. */
export function formatRelative(ms: number, now: number): string {
  if (!Number.isFinite(ms)) return "–";
  const minutes = Math.round((ms - now) / 60000);
  if (minutes === 0) return "now";
  return minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
}

export function formatDistance(m: number | undefined): string {
  if (m === undefined || !Number.isFinite(m)) return "–";
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

export const activityLabel: Record<Activity, string> = {
  moving: "Moving",
  stopped: "Stopped",
  at_customer: "At customer",
  offline: "Offline",
};

/** Status colours (also used by the canvas): distinguishable for common colour-vision deficiencies. */
export const activityColor: Record<Activity, string> = {
  moving: "#1f77b4",
  stopped: "#e69f00",
  at_customer: "#009e73",
  offline: "#7f7f7f",
};
