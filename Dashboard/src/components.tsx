// Presentational pieces: sign-in, connection indicator, driver list, driver detail with stops, event feed,
// alert toasts.
import type { Alert, Customer, EnrichedPosition, PlannedVisit, VisitEvent, VisitStatus } from "./types.ts";
import { activityColor, activityLabel, formatClock, formatDistance, formatRelative, toMillis } from "./types.ts";
import type { ConnectionState } from "./live.ts";
import type { DriverRow, FleetStore } from "./store.ts";

const { useState, useMemo, useRef, useEffect, useSyncExternalStore } = React;

// MARK: Sign-in

export function SignIn(props: {
  devSignIn: boolean;
  devTenantId?: string;
  error: string | null;
  onToken(token: string): void;
  onDevSignIn(): void;
}) {
  const [token, setToken] = useState("");
  return (
    <main className="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Distribution Tracker — dispatcher sign-in</h1>
      {props.devSignIn && (
        <section className="card">
          <h2>Development sign-in</h2>
          <p>
            This server runs in demo or local mode: sign in as a dispatcher of tenant{" "}
            <strong>{props.devTenantId ?? "demo"}</strong> without a token.
          </p>
          <button type="button" className="primary" id="dev-signin" onClick={props.onDevSignIn}>
            Sign in (development)
          </button>
        </section>
      )}
      <section className="card">
        <h2>Sign in with a token</h2>
        <form
          onSubmit={(e: Event) => {
            e.preventDefault();
            if (token.trim()) props.onToken(token.trim());
          }}
        >
          <label htmlFor="token-input">API token (JWT, e.g. from <code>tracker token</code>)</label>
          <textarea
            id="token-input"
            rows={4}
            value={token}
            spellCheck={false}
            onChange={(e: any) => setToken(e.target.value)}
          />
          <button type="submit" className="primary">Sign in</button>
        </form>
      </section>
      {props.error && <p role="alert" className="error">{props.error}</p>}
    </main>
  );
}

// MARK: Connection

export function ConnectionIndicator(props: { state: ConnectionState; onReconnect(): void }) {
  const s = props.state;
  let label: string;
  let tone: string;
  switch (s.kind) {
    case "connecting":
      label = "Connecting…";
      tone = "pending";
      break;
    case "connected":
      label = s.recovered ? "Live (recovered)" : "Live";
      tone = "ok";
      break;
    case "reconnecting":
      label = s.attempt > 0 ? `Reconnecting (attempt ${s.attempt})…` : `Reconnecting… (${s.reason})`;
      tone = "pending";
      break;
    case "disconnected":
      label = `Disconnected: ${s.reason}`;
      tone = "bad";
      break;
    case "refused":
      label = `Refused: ${s.reason}`;
      tone = "bad";
      break;
  }
  return (
    <div className={`connection ${tone}`} role="status" aria-live="polite" id="connection">
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">{label}</span>
      {s.kind !== "connected" && s.kind !== "connecting" && (
        <button type="button" onClick={props.onReconnect}>Reconnect</button>
      )}
    </div>
  );
}

// MARK: Counts

export function useFleetVersion(store: FleetStore): number {
  return useSyncExternalStore(store.subscribe, store.getVersion);
}

/** The header's counts; subscribes itself so a batch re-renders only this, the list and the detail. */
export function LiveCounts(props: { store: FleetStore }) {
  useFleetVersion(props.store);
  const c = props.store.counts();
  return (
    <div className="counts" aria-label="Fleet counts" id="fleet-counts">
      <span className="chip"><strong data-count="total">{c.total}</strong> drivers</span>
      <span className="chip moving"><strong data-count="moving">{c.moving}</strong> moving</span>
      <span className="chip stopped"><strong data-count="stopped">{c.stopped}</strong> stopped</span>
      <span className="chip at_customer"><strong data-count="at_customer">{c.at_customer}</strong> at customer</span>
      <span className="chip offline"><strong data-count="offline">{c.offline}</strong> offline</span>
      <span className="chip late"><strong data-count="late">{c.late}</strong> late</span>
    </div>
  );
}

// MARK: Driver list

export type StatusFilter = "all" | "moving" | "stopped" | "at_customer" | "offline" | "late";
export type SortKey = "name" | "eta" | "lateness";

const ROW_HEIGHT = 52;

export function DriverList(props: {
  store: FleetStore;
  selected: string | null;
  onSelect(id: string): void;
  searchRef: React.RefObject<HTMLInputElement | null>;
}) {
  const version = useFleetVersion(props.store);
  const [query, setQuery] = useState("");
  const [filter, setFilter] = useState<StatusFilter>("all");
  const [sort, setSort] = useState<SortKey>("name");
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const listRef = useRef<HTMLDivElement | null>(null);

  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    setHeight(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    const out: DriverRow[] = [];
    for (const r of props.store.rows.values()) {
      if (filter === "late" ? !r.late : filter !== "all" && r.activity !== filter) continue;
      if (q && !r.sortKey.includes(q) && !r.plate.toLowerCase().includes(q)) continue;
      out.push(r);
    }
    // Plain comparisons of precomputed keys: localeCompare on 1,000 rows per batch costs milliseconds.
    const byName = (a: DriverRow, b: DriverRow) => a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0;
    const eta = (r: DriverRow) => Number.isFinite(r.etaToNext) ? r.etaToNext : Infinity;
    if (sort === "name") out.sort(byName);
    else if (sort === "eta") out.sort((a, b) => eta(a) - eta(b) || byName(a, b));
    else out.sort((a, b) => Number(b.late) - Number(a.late) || eta(a) - eta(b) || byName(a, b));
    return out;
  }, [version, query, filter, sort]);

  const counts = props.store.counts();
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - 4);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + 4);
  const now = Date.now();

  const move = (delta: number) => {
    if (rows.length === 0) return;
    const index = rows.findIndex((r) => r.id === props.selected);
    const next = Math.max(0, Math.min(rows.length - 1, index < 0 ? 0 : index + delta));
    props.onSelect(rows[next].id);
    const el = listRef.current;
    if (el) {
      const top = next * ROW_HEIGHT;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    }
  };

  const filters: [StatusFilter, string, number][] = [
    ["all", "All", counts.total],
    ["moving", "Moving", counts.moving],
    ["stopped", "Stopped", counts.stopped],
    ["at_customer", "At customer", counts.at_customer],
    ["offline", "Offline", counts.offline],
    ["late", "Late", counts.late],
  ];

  return (
    <section className="driver-list" aria-labelledby="drivers-title">
      <div className="list-controls">
        <h2 id="drivers-title">Drivers <span className="muted">({rows.length} shown)</span></h2>
        <label htmlFor="driver-search" className="sr-only">Search drivers</label>
        <input
          id="driver-search"
          ref={props.searchRef}
          type="search"
          placeholder="Search name, id or plate  ( / )"
          value={query}
          onChange={(e: any) => setQuery(e.target.value)}
        />
        <div className="filters" role="group" aria-label="Filter by status">
          {filters.map(([key, label, n]) => (
            <button
              type="button"
              key={key}
              className={`filter ${key}`}
              aria-pressed={filter === key}
              onClick={() => setFilter(key)}
            >
              {label} <span className="n" data-filter-count={key}>{n}</span>
            </button>
          ))}
        </div>
        <label className="sort">
          Sort by{" "}
          <select id="driver-sort" value={sort} onChange={(e: any) => setSort(e.target.value as SortKey)}>
            <option value="name">Name</option>
            <option value="eta">ETA to next stop</option>
            <option value="lateness">Lateness (late first)</option>
          </select>
        </label>
      </div>
      <div
        className="rows"
        ref={listRef}
        role="listbox"
        id="driver-rows"
        tabIndex={0}
        aria-label="Drivers (arrow keys to move, Enter to centre on the map)"
        aria-activedescendant={props.selected ? `row-${props.selected}` : undefined}
        onScroll={(e: any) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={(e: KeyboardEvent) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            move(1);
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            move(-1);
          } else if (e.key === "Home") {
            e.preventDefault();
            move(-rows.length);
          } else if (e.key === "End") {
            e.preventDefault();
            move(rows.length);
          } else if (e.key === "Enter" && props.selected) {
            props.onSelect(props.selected);
          }
        }}
      >
        <div style={{ height: rows.length * ROW_HEIGHT, position: "relative" }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              key={r.id}
              id={`row-${r.id}`}
              role="option"
              aria-selected={r.id === props.selected}
              className={`row${r.id === props.selected ? " selected" : ""}`}
              data-driver-id={r.id}
              data-fix={r.fixTime}
              style={{ top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT }}
              onClick={() => props.onSelect(r.id)}
            >
              <span className="swatch" style={{ background: activityColor[r.activity] }} aria-hidden="true" />
              <span className="row-main">
                <span className="row-name">{r.name}</span>
                <span className="row-sub muted">{r.id} · {activityLabel[r.activity]}{r.hasPosition ? ` · ${Math.round(r.speed)} km/h` : ""}</span>
              </span>
              <span className="row-eta">
                {Number.isFinite(r.etaToNext) ? formatClock(r.etaToNext) : "–"}
                <span className="muted">{Number.isFinite(r.etaToNext) ? formatRelative(r.etaToNext, now) : ""}</span>
              </span>
              {r.late && <span className="badge late" title="ETA after the end of a time window">Late</span>}
            </div>
          ))}
        </div>
        {rows.length === 0 && <p className="empty">No driver matches.</p>}
      </div>
    </section>
  );
}

// MARK: Driver detail

const statusLabel: Record<VisitStatus, string> = {
  pending: "Pending",
  arrived: "Arrived",
  in_progress: "In progress",
  completed: "Completed",
  failed: "Failed",
  skipped: "Skipped",
  cancelled: "Cancelled",
};

export function DriverDetail(props: {
  store: FleetStore;
  selected: string | null;
  detail: EnrichedPosition | null;
  visits: PlannedVisit[] | null;
  visitsError: string | null;
  customers: Map<string, Customer>;
  follow: boolean;
  onFollow(on: boolean): void;
  onClose(): void;
  onReplay(): void;
}) {
  useFleetVersion(props.store);
  const row = props.selected ? props.store.rows.get(props.selected) : undefined;
  const { detail } = props;
  if (!row) return <p className="empty">Select a driver in the list or on the map.</p>;
  const now = Date.now();
  const eta = detail ? toMillis(detail.etaToNext) : row.etaToNext;
  const etaByVisit = new Map((detail?.remainingStops ?? []).map((s) => [s.visitId, s]));
  const completed = detail?.completedStops ?? 0;
  const total = detail?.totalStops ?? 0;
  return (
    <section className="driver-detail" aria-labelledby="detail-title" id="driver-detail">
      <header className="detail-head">
        <h2 id="detail-title">{row.name}</h2>
        <button type="button" className="icon" aria-label="Close driver details" onClick={props.onClose}>×</button>
      </header>
      <p className="muted">{row.id}{row.plate ? ` · ${row.plate}` : ""}</p>
      <div className="detail-status">
        <span className={`chip ${row.activity}`}>{activityLabel[row.activity]}</span>
        <label className="toggle">
          <input type="checkbox" id="follow-toggle" checked={props.follow} onChange={(e: any) => props.onFollow(e.target.checked)} />
          Follow on map
        </label>
      </div>
      {(detail?.late ?? row.late) && (
        <p className="warning" role="alert" id="late-warning">
          Late: the estimated arrival misses a customer's time window.
        </p>
      )}
      <dl className="facts" id="detail-facts">
        <div><dt>Speed</dt><dd data-fact="speed">{Math.round(detail?.speedKmh ?? row.speed)} km/h</dd></div>
        <div>
          <dt>Battery</dt>
          <dd data-fact="battery">{detail?.batteryLevel !== undefined ? `${Math.round(detail.batteryLevel)} %` : "–"}</dd>
        </div>
        <div className="wide">
          <dt>Next stop</dt>
          <dd data-fact="next">{detail?.nextCustomerName ?? (detail ? "none" : "…")}</dd>
        </div>
        <div><dt>Distance</dt><dd data-fact="distance">{formatDistance(detail?.distanceToNextMeters)}</dd></div>
        <div>
          <dt>ETA</dt>
          <dd data-fact="eta">{formatClock(eta)} <span className="muted">{formatRelative(eta, now)}</span></dd>
        </div>
        <div className="wide">
          <dt>Route progress</dt>
          <dd data-fact="progress">
            {completed}/{total} stops
            <progress max={Math.max(1, total)} value={completed} aria-label="Route progress" />
          </dd>
        </div>
        <div className="wide"><dt>Last fix</dt><dd>{formatClock(row.fixTime, true)}</dd></div>
      </dl>
      <button type="button" onClick={props.onReplay} id="replay-driver">Replay today's route…</button>
      <h3>Today's stops</h3>
      {props.visitsError && <p className="error">{props.visitsError}</p>}
      {!props.visits && !props.visitsError && <p className="muted">Loading stops…</p>}
      {props.visits && props.visits.length === 0 && <p className="muted">No route today.</p>}
      {props.visits && props.visits.length > 0 && (
        <ol className="stops" id="stop-list">
          {props.visits.map((v) => {
            const c = props.customers.get(v.customerId);
            const remaining = etaByVisit.get(v.id);
            return (
              <li key={v.id} className={`stop ${v.status}${v.id === detail?.nextVisitId ? " next" : ""}`}>
                <span className="seq" aria-hidden="true">{v.sequenceNumber}</span>
                <span className="stop-main">
                  <span className="stop-name">{c?.name ?? v.customerId}</span>
                  <span className="muted">
                    {v.timeWindow ? `Window ${formatClock(v.timeWindow.start)}–${formatClock(v.timeWindow.end)}` : "No window"}
                    {v.arrivedAt ? ` · arrived ${formatClock(v.arrivedAt)}` : ""}
                    {v.departedAt ? ` · left ${formatClock(v.departedAt)}` : ""}
                    {remaining ? ` · ETA ${formatClock(remaining.eta)}` : ""}
                  </span>
                </span>
                <span className={`chip status ${v.status}${remaining?.late ? " late" : ""}`}>
                  {statusLabel[v.status]}{remaining?.late ? " · late" : ""}
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

// MARK: Feed

export interface FeedItem {
  key: number;
  event: VisitEvent;
}

export function VisitFeed(props: {
  items: FeedItem[];
  names: (driverId: string) => string;
  customers: Map<string, Customer>;
  onSelect(driverId: string): void;
}) {
  return (
    <section className="feed" aria-labelledby="feed-title">
      <h2 id="feed-title">Visit events <span className="muted">(live, newest first)</span></h2>
      {props.items.length === 0 && <p className="muted">Waiting for arrivals and departures…</p>}
      <ol className="feed-items" id="visit-feed" role="log" aria-live="off">
        {props.items.map(({ key, event: e }) => (
          <li key={key} className="feed-item" data-kind={e.kind}>
            <time>{formatClock(e.at, true)}</time>
            <span className={`chip status ${e.status}`}>{e.kind}</span>
            <span className="feed-text">
              <button type="button" className="link" onClick={() => props.onSelect(e.driverId)}>
                {props.names(e.driverId)}
              </button>{" "}
              at {props.customers.get(e.customerId)?.name ?? e.customerId}
              {e.outOfSequence ? " (out of sequence)" : ""}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

// MARK: Toasts

export interface Toast {
  key: number;
  alert: Alert;
}

export function Toasts(props: { toasts: Toast[]; names: (id: string) => string; onDismiss(key: number): void; onSelect(id: string): void }) {
  return (
    <div className="toasts" role="region" aria-label="Alerts" aria-live="polite" id="toasts">
      {props.toasts.map(({ key, alert: a }) => (
        <div className={`toast ${a.kind}`} key={key} role="alert" data-key={key}>
          <div className="toast-body">
            <strong>{a.kind.replace(/_/g, " ")}</strong>{" "}
            <button type="button" className="link" onClick={() => props.onSelect(a.driverId)}>{props.names(a.driverId)}</button>
            <time className="muted"> {formatClock(a.at)}</time>
            <div>{a.message}</div>
          </div>
          <button type="button" className="icon" aria-label="Dismiss alert" onClick={() => props.onDismiss(key)}>×</button>
        </div>
      ))}
    </div>
  );
}
