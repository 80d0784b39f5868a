// The dispatcher dashboard: sign-in, then the live map with the driver list, the selected driver's detail and
// stops, the visit-event feed, alerts, and route playback.
import type { Customer, DashboardConfig, EnrichedPosition, PlannedVisit } from "./types.ts";
import { api, ApiError, todayUTC, tokenClaims } from "./api.ts";
import { FleetStore } from "./store.ts";
import { FleetMap } from "./map.ts";
import { BatchMetrics, type ConnectionState, LiveConnection } from "./live.ts";
import {
  ConnectionIndicator,
  DriverDetail,
  DriverList,
  type FeedItem,
  LiveCounts,
  SignIn,
  type Toast,
  Toasts,
  VisitFeed,
} from "./components.tsx";
import { Playback, type PlaybackSource } from "./playback.tsx";

const { useState, useEffect, useRef, useMemo, useCallback } = React;

const TOKEN_KEY = "tracker.dashboard.token";
const FEED_LIMIT = 200;
const TOAST_LIMIT = 3;

declare global {
  interface Window {
    __dashboard?: {
      metrics: BatchMetrics;
      store: FleetStore;
      map: FleetMap | null;
      live: LiveConnection | null;
      feed: number;
      connection: ConnectionState;
    };
  }
}

export function App() {
  const [config, setConfig] = useState<DashboardConfig | null>(null);
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.config().then(setConfig).catch((e: Error) => setError(`Cannot reach the server: ${e.message}`));
  }, []);

  const signIn = (t: string) => {
    const claims = tokenClaims(t);
    if (!claims?.tenant) {
      setError("That is not a tracker token (no tenant claim).");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, t);
    setError(null);
    setToken(t);
  };
  const signOut = (reason?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    if (reason) setError(reason);
  };

  if (!config) {
    return <p className="loading" role="status">{error ?? "Loading…"}</p>;
  }
  if (!token) {
    return (
      <SignIn
        devSignIn={config.devSignIn}
        devTenantId={config.devTenantId}
        error={error}
        onToken={signIn}
        onDevSignIn={() => api.devToken().then((r) => signIn(r.token)).catch((e: Error) => setError(e.message))}
      />
    );
  }
  return <Dashboard token={token} config={config} onSignOut={signOut} />;
}

type Tab = "driver" | "feed" | "playback";

function Dashboard(props: { token: string; config: DashboardConfig; onSignOut(reason?: string): void }) {
  const claims = useMemo(() => tokenClaims(props.token), [props.token]);
  const store = useMemo(() => new FleetStore(), []);
  const metrics = useMemo(() => new BatchMetrics(), []);
  const mapEl = useRef<HTMLDivElement | null>(null);
  const searchRef = useRef<HTMLInputElement | null>(null);
  const [fleetMap, setFleetMap] = useState<FleetMap | null>(null);
  const [live, setLive] = useState<LiveConnection | null>(null);
  const [connection, setConnection] = useState<ConnectionState>({ kind: "connecting" });
  const [selected, setSelected] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [tab, setTab] = useState<Tab>("driver");
  const [detail, setDetail] = useState<EnrichedPosition | null>(null);
  const [visits, setVisits] = useState<PlannedVisit[] | null>(null);
  const [visitsError, setVisitsError] = useState<string | null>(null);
  const [customers, setCustomers] = useState<Map<string, Customer>>(new Map());
  const [feed, setFeed] = useState<FeedItem[]>([]);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const seq = useRef(0);
  const selectedRef = useRef<string | null>(null);
  selectedRef.current = selected;

  const customersRef = useRef<Map<string, Customer>>(new Map());
  const customersLoadedAt = useRef(0);
  const loadCustomers = useRef<() => void>(() => {});
  /** Customers reach the read model asynchronously (change events): reload when one is still unknown. */
  const ensureCustomers = (ids: string[]) => {
    if (ids.some((id) => !customersRef.current.has(id)) && Date.now() - customersLoadedAt.current > 15000) {
      loadCustomers.current();
    }
  };
  const names = useCallback((id: string) => store.rows.get(id)?.name ?? id, [store]);

  const authFailed = (e: unknown) => {
    if (e instanceof ApiError && e.status === 401) props.onSignOut(`Signed out: ${e.message}`);
  };

  // Map, reference data and the live connection, once per sign-in.
  useEffect(() => {
    const map = new FleetMap(mapEl.current!, store, {
      tiles: props.config.tiles,
      onDriverClick: (id) => select(id),
      onUserPan: () => setFollow(false),
    });
    setFleetMap(map);
    api.drivers(props.token).then((d) => store.setDrivers(d)).catch(authFailed);
    loadCustomers.current = () => {
      customersLoadedAt.current = Date.now();
      api.customers(props.token).then((list) => {
        const byId = new Map(list.map((c) => [c.id, c]));
        customersRef.current = byId;
        setCustomers(byId);
        map.setCustomers(list);
      }).catch(authFailed);
    };
    loadCustomers.current();
    if (props.config.basemap) api.basemap(props.token).then((b) => map.setBasemap(b)).catch(() => {});

    const connection = new LiveConnection(props.token, store, {
      state: (s) => {
        setConnection(s);
        if (s.kind === "refused" && /token/i.test(s.reason)) props.onSignOut(`Signed out: ${s.reason}`);
      },
      batch: () => {},
      detailed: (p) => {
        if (p.driverId === selectedRef.current) setDetail(p);
        store.applyEnriched(p, false);
      },
      visit: (e) => {
        setFeed((items) => [{ key: ++seq.current, event: e }, ...items].slice(0, FEED_LIMIT));
        ensureCustomers([e.customerId]);
        if (e.driverId === selectedRef.current) {
          setVisits((vs) => vs && vs.map((v) => v.id === e.visitId ? { ...v, status: e.status, ...(e.kind === "arrived" ? { arrivedAt: e.at } : e.kind === "departed" ? { departedAt: e.at } : {}) } : v));
        }
      },
      alert: (a) => setToasts((ts) => [...ts, { key: ++seq.current, alert: a }].slice(-TOAST_LIMIT)),
      driverEvent: (e) => {
        if (e.kind === "offline") store.setActivity(e.driverId, "offline");
      },
    }, metrics, () => {
      // Inside the measured span: the list's render and the canvas draw.
      ReactDOM.flushSync(() => {});
      map.update();
    });
    setLive(connection);
    window.__dashboard = { metrics, store, map, live: connection, feed: 0, connection: { kind: "connecting" } };
    return () => {
      connection.close();
      map.destroy();
    };
  }, [props.token]);

  useEffect(() => {
    if (window.__dashboard) {
      window.__dashboard.feed = feed.length;
      window.__dashboard.connection = connection;
    }
  }, [feed, connection]);

  // Alerts expire after 30 s unless dismissed earlier.
  useEffect(() => {
    if (toasts.length === 0) return;
    const timer = setTimeout(() => setToasts((ts) => ts.slice(1)), 30000);
    return () => clearTimeout(timer);
  }, [toasts]);

  const select = (id: string | null) => {
    setSelected(id);
    if (id) {
      setTab((t) => (t === "playback" ? t : "driver"));
      setFollow(true);
    }
  };

  // Selection: focus the map, subscribe to the detailed stream, load today's stops.
  useEffect(() => {
    if (!fleetMap) return;
    fleetMap.selected = selected;
    fleetMap.follow = follow && !!selected;
    if (selected) fleetMap.focus(selected);
    fleetMap.update();
  }, [selected, fleetMap]);

  useEffect(() => {
    if (fleetMap) fleetMap.follow = follow && !!selected;
  }, [follow, fleetMap, selected]);

  useEffect(() => {
    setDetail(null);
    setVisits(null);
    setVisitsError(null);
    if (!live) return;
    live.follow(selected).catch((e: Error) => setNotice(`Live detail unavailable: ${e.message}`));
    if (!selected) return;
    let cancelled = false;
    loadVisits(props.token, selected, todayUTC())
      .then((v) => {
        if (cancelled) return;
        setVisits(v);
        ensureCustomers(v.map((x) => x.customerId));
      })
      .catch((e: Error) => !cancelled && setVisitsError(`Could not load stops: ${e.message}`));
    return () => {
      cancelled = true;
    };
  }, [selected, live]);

  // Keyboard: "/" focuses the search, Escape clears the selection.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      const typing = target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT";
      if (e.key === "/" && !typing) {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === "Escape" && !typing) {
        select(null);
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const playbackSource: PlaybackSource = useMemo(() => ({
    history: async (driverId, from, to, maxPoints) => {
      if (live?.socket.connected) {
        try {
          return await live.history(driverId, from, to, maxPoints);
        } catch (_) {
          // fall back to REST below
        }
      }
      return (await api.history(props.token, driverId, from, to, maxPoints)).points;
    },
    visits: (driverId, day) => loadVisits(props.token, driverId, day),
  }), [live, props.token]);

  // Recomputed when the playback tab opens or the fleet's size changes, not on every batch.
  const driverOptions = useMemo(
    () => [...store.rows.values()].map((r) => ({ id: r.id, name: r.name })).sort((a, b) => a.name.localeCompare(b.name)),
    [tab === "playback", store.rows.size],
  );

  return (
    <div className="app">
      <header className="top">
        <h1>Distribution Tracker</h1>
        <span className="tenant" title="Tenant of your token">Tenant <strong>{claims?.tenant ?? "?"}</strong> · {claims?.role}</span>
        <LiveCounts store={store} />
        <ConnectionIndicator state={connection} onReconnect={() => live?.reconnect()} />
        <button type="button" onClick={() => props.onSignOut()}>Sign out</button>
      </header>
      <DriverList store={store} selected={selected} onSelect={select} searchRef={searchRef} />
      <main className="map-area" aria-label="Map">
        <div ref={mapEl} className="map" id="map" role="application" aria-label="Live map of drivers. Select drivers in the list." />
        <div className="legend" aria-label="Legend">
          <span><i className="moving" /> moving</span>
          <span><i className="stopped" /> stopped</span>
          <span><i className="at_customer" /> at customer</span>
          <span><i className="offline" /> offline</span>
          <span><i className="late-ring" /> late</span>
          <span><i className="customer" /> customer</span>
        </div>
        {notice && (
          <div className="notice" role="status">
            {notice} <button type="button" className="icon" aria-label="Dismiss" onClick={() => setNotice(null)}>×</button>
          </div>
        )}
      </main>
      <aside className="side" aria-label="Details">
        <div
          className="tabs"
          role="tablist"
          aria-label="Panels"
          onKeyDown={(e: KeyboardEvent) => {
            // Arrow keys move between tabs (WAI-ARIA tabs pattern).
            const order: Tab[] = ["driver", "feed", "playback"];
            const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
            if (!step) return;
            const next = order[(order.indexOf(tab) + step + order.length) % order.length];
            setTab(next);
            document.getElementById(`tab-${next}`)?.focus();
          }}
        >
          {([["driver", "Driver"], ["feed", `Visit feed (${feed.length})`], ["playback", "Playback"]] as [Tab, string][]).map(([key, label]) => (
            <button
              type="button"
              role="tab"
              key={key}
              id={`tab-${key}`}
              aria-selected={tab === key}
              aria-controls={`panel-${key}`}
              tabIndex={tab === key ? 0 : -1}
              onClick={() => setTab(key)}
            >
              {label}
            </button>
          ))}
        </div>
        <div className="panel" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
          {tab === "driver" && (
            <DriverDetail
              store={store}
              selected={selected}
              detail={detail}
              visits={visits}
              visitsError={visitsError}
              customers={customers}
              follow={follow}
              onFollow={setFollow}
              onClose={() => select(null)}
              onReplay={() => setTab("playback")}
            />
          )}
          {tab === "feed" && <VisitFeed items={feed} names={names} customers={customers} onSelect={select} />}
          {tab === "playback" && (
            <Playback map={fleetMap} source={playbackSource} driverId={selected} driverOptions={driverOptions} customers={customers} />
          )}
        </div>
      </aside>
      <Toasts toasts={toasts} names={names} onSelect={select} onDismiss={(key) => setToasts((ts) => ts.filter((t) => t.key !== key))} />
    </div>
  );
}

async function loadVisits(token: string, driverId: string, day: string): Promise<PlannedVisit[]> {
  const routes = await api.routes(token, day, driverId);
  if (routes.length === 0) return [];
  const details = await api.route(token, routes[0].id);
  return [...details.visits].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
}
