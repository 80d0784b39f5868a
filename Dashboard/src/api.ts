// REST calls with the bearer token; errors carry the problem+json `detail`.
import type { Basemap, Customer, DashboardConfig, Driver, HistoryPoint, Route, RouteDetails } from "./types.ts";

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function request<T>(path: string, token: string | null, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail ?? detail;
    } catch (_) {
      // not JSON
    }
    throw new ApiError(response.status, detail);
  }
  return await response.json() as T;
}

export const api = {
  config: () => request<DashboardConfig>("/api/dashboard/config", null),
  devToken: (role = "dispatcher") =>
    request<{ token: string; tenantId: string; role: string }>("/api/dev/token", null, {
      method: "POST",
      body: JSON.stringify({ role }),
    }),
  drivers: (token: string) => request<Driver[]>("/api/drivers", token),
  customers: (token: string) => request<Customer[]>("/api/customers", token),
  basemap: (token: string) => request<Basemap>("/api/demo/basemap", token),
  routes: (token: string, date: string, driverId: string) =>
    request<Route[]>(`/api/routes?date=${encodeURIComponent(date)}&driverId=${encodeURIComponent(driverId)}`, token),
  route: (token: string, id: string) => request<RouteDetails>(`/api/routes/${encodeURIComponent(id)}`, token),
  history: (token: string, driverId: string, from: number, to: number, maxPoints: number) =>
    request<{ points: HistoryPoint[] }>(
      `/api/drivers/${encodeURIComponent(driverId)}/history?from=${from}&to=${to}&maxPoints=${maxPoints}`,
      token,
    ),
};

/** The claims of a JWT, without verifying it (the server does). */
export function tokenClaims(token: string): { tenant?: string; role?: string; sub?: string; exp?: number } | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(json);
  } catch (_) {
    return null;
  }
}

/** Today's date (UTC, as the server schedules routes) as YYYY-MM-DD. */
export function todayUTC(): string {
  return new Date().toISOString().slice(0, 10);
}
