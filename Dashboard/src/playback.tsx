// Route playback: a driver's history (`get-route-history`, REST as fallback) as a polyline and a marker moved by
// a time slider; play/pause at 1×/10×/60×/300×, step, follow, and the day's stops on the timeline with their
// arrival and departure times.
import type { Customer, HistoryPoint, PlannedVisit } from "./types.ts";
import { formatClock, toMillis } from "./types.ts";
import type { FleetMap } from "./map.ts";

const { useState, useEffect, useRef, useMemo } = React;

export interface PlaybackSource {
  history(driverId: string, from: number, to: number, maxPoints: number): Promise<HistoryPoint[]>;
  visits(driverId: string, day: string): Promise<PlannedVisit[]>;
}

interface Track {
  driverId: string;
  times: number[];
  points: HistoryPoint[];
  from: number;
  to: number;
  stops: { visit: PlannedVisit; name: string; arrived: number; departed: number; lat: number; lng: number }[];
}

const SPEEDS = [1, 10, 60, 300];

function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** Position at time `t`, linearly between the two surrounding points. */
export function positionAt(track: Track, t: number): { lat: number; lng: number; index: number; speed: number } {
  const times = track.times;
  let lo = 0, hi = times.length - 1;
  if (t <= times[0]) return { lat: track.points[0].latitude, lng: track.points[0].longitude, index: 0, speed: track.points[0].speedKmh };
  if (t >= times[hi]) {
    const p = track.points[hi];
    return { lat: p.latitude, lng: p.longitude, index: hi, speed: p.speedKmh };
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  const a = track.points[lo], b = track.points[hi];
  const f = (t - times[lo]) / Math.max(1, times[hi] - times[lo]);
  return {
    lat: a.latitude + (b.latitude - a.latitude) * f,
    lng: a.longitude + (b.longitude - a.longitude) * f,
    index: lo,
    speed: a.speedKmh,
  };
}

export function Playback(props: {
  map: FleetMap | null;
  source: PlaybackSource;
  driverId: string | null;
  driverOptions: { id: string; name: string }[];
  customers: Map<string, Customer>;
}) {
  const startOfDay = useMemo(() => {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  }, []);
  const [driverId, setDriverId] = useState<string>(props.driverId ?? props.driverOptions[0]?.id ?? "");
  const [from, setFrom] = useState(localInput(startOfDay));
  const [to, setTo] = useState(localInput(Date.now() + 60000));
  const [track, setTrack] = useState<Track | null>(null);
  const [t, setT] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(60);
  const [follow, setFollow] = useState(true);
  const [status, setStatus] = useState<string | null>(null);
  const tRef = useRef(0);
  tRef.current = t;

  useEffect(() => {
    if (props.driverId) setDriverId(props.driverId);
  }, [props.driverId]);

  // Clear the track from the map when the panel closes.
  useEffect(() => () => props.map?.clearTrack(), [props.map]);

  const load = async () => {
    if (!driverId) return;
    const fromMs = new Date(from).getTime(), toMs = new Date(to).getTime();
    if (!(fromMs < toMs)) {
      setStatus("The start must be before the end.");
      return;
    }
    setPlaying(false);
    setStatus("Loading history…");
    try {
      const [points, visits] = await Promise.all([
        props.source.history(driverId, fromMs, toMs, 2000),
        props.source.visits(driverId, new Date(fromMs).toISOString().slice(0, 10)).catch(() => [] as PlannedVisit[]),
      ]);
      const sorted = points.map((p) => ({ p, t: toMillis(p.fixTime) })).filter((x) => Number.isFinite(x.t))
        .sort((a, b) => a.t - b.t);
      if (sorted.length === 0) {
        props.map?.clearTrack();
        setTrack(null);
        setStatus("No positions in this range.");
        return;
      }
      const stops = visits
        .filter((v) => v.arrivedAt)
        .map((v) => {
          const c = props.customers.get(v.customerId);
          return {
            visit: v,
            name: c?.name ?? v.customerId,
            arrived: toMillis(v.arrivedAt),
            departed: toMillis(v.departedAt ?? v.completedAt),
            lat: c?.latitude ?? NaN,
            lng: c?.longitude ?? NaN,
          };
        })
        .sort((a, b) => a.arrived - b.arrived);
      const next: Track = {
        driverId,
        points: sorted.map((x) => x.p),
        times: sorted.map((x) => x.t),
        from: sorted[0].t,
        to: sorted[sorted.length - 1].t,
        stops,
      };
      setTrack(next);
      setT(next.from);
      props.map?.showTrack(
        next.points,
        stops.filter((s) => Number.isFinite(s.lat)).map((s) => ({
          lat: s.lat,
          lng: s.lng,
          label: `#${s.visit.sequenceNumber} ${s.name}: arrived ${formatClock(s.arrived)}, left ${formatClock(s.departed)}`,
        })),
      );
      setStatus(`${sorted.length} positions, ${formatClock(next.from)}–${formatClock(next.to)}, ${stops.length} stops visited`);
    } catch (e) {
      setStatus(`Could not load the history: ${(e as Error).message}`);
    }
  };

  // Move the marker whenever the time changes.
  useEffect(() => {
    if (!track || !props.map) return;
    const p = positionAt(track, t);
    props.map.moveTrackMarker(p.lat, p.lng, follow);
  }, [t, track, follow]);

  // Play: advance simulated time by real time × speed, once per animation frame.
  useEffect(() => {
    if (!playing || !track) return;
    let last = performance.now();
    let frame = 0;
    const tick = (now: number) => {
      const next = Math.min(track.to, tRef.current + (now - last) * speed);
      last = now;
      setT(next);
      if (next >= track.to) setPlaying(false);
      else frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [playing, speed, track]);

  const step = (delta: number) => {
    if (!track) return;
    setPlaying(false);
    const { index } = positionAt(track, t);
    const atPoint = track.times[index] === t;
    const target = delta > 0 ? index + 1 : atPoint ? index - 1 : index;
    setT(track.times[Math.max(0, Math.min(track.times.length - 1, target))]);
  };

  const current = track ? positionAt(track, t) : null;
  const span = track ? Math.max(1, track.to - track.from) : 1;

  return (
    <section className="playback" aria-labelledby="playback-title" id="playback">
      <h2 id="playback-title">Route playback</h2>
      <form
        className="playback-form"
        onSubmit={(e: Event) => {
          e.preventDefault();
          load();
        }}
      >
        <label>
          Driver
          <select id="playback-driver" value={driverId} onChange={(e: any) => setDriverId(e.target.value)}>
            {props.driverOptions.map((d) => <option key={d.id} value={d.id}>{d.name} ({d.id})</option>)}
          </select>
        </label>
        <label>
          From
          <input id="playback-from" type="datetime-local" value={from} onChange={(e: any) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input id="playback-to" type="datetime-local" value={to} onChange={(e: any) => setTo(e.target.value)} />
        </label>
        <button type="submit" className="primary" id="playback-load">Load route</button>
      </form>
      {status && <p className="muted" role="status" id="playback-status">{status}</p>}
      {track && current && (
        <div className="transport">
          <div className="transport-row">
            <button type="button" id="playback-back" aria-label="Step back one position" onClick={() => step(-1)}>‹ Step</button>
            <button
              type="button"
              id="playback-play"
              className="primary"
              aria-label={playing ? "Pause" : "Play"}
              onClick={() => {
                if (!playing && t >= track.to) setT(track.from);
                setPlaying(!playing);
              }}
            >
              {playing ? "Pause" : "Play"}
            </button>
            <button type="button" id="playback-forward" aria-label="Step forward one position" onClick={() => step(1)}>Step ›</button>
            <div className="speeds" role="radiogroup" aria-label="Playback speed">
              {SPEEDS.map((s) => (
                <button type="button" key={s} role="radio" aria-checked={speed === s} onClick={() => setSpeed(s)}>
                  {s}×
                </button>
              ))}
            </div>
            <label className="toggle">
              <input type="checkbox" id="playback-follow" checked={follow} onChange={(e: any) => setFollow(e.target.checked)} />
              Follow
            </label>
          </div>
          <label htmlFor="playback-slider" className="sr-only">Playback time</label>
          <input
            id="playback-slider"
            type="range"
            min={track.from}
            max={track.to}
            step={1000}
            value={t}
            aria-valuetext={formatClock(t, true)}
            onChange={(e: any) => {
              setPlaying(false);
              setT(Number(e.target.value));
            }}
          />
          <div className="timeline" aria-hidden="true">
            {track.stops.map((s) => (
              <span
                key={s.visit.id}
                className="timeline-stop"
                title={`${s.name}: ${formatClock(s.arrived)}–${formatClock(s.departed)}`}
                style={{
                  left: `${((s.arrived - track.from) / span) * 100}%`,
                  width: `${Math.max(0.6, (((Number.isFinite(s.departed) ? s.departed : s.arrived) - s.arrived) / span) * 100)}%`,
                }}
              />
            ))}
          </div>
          <p className="playback-now" id="playback-time">
            <strong>{formatClock(t, true)}</strong> · {Math.round(current.speed)} km/h · position {current.index + 1}/{track.points.length}
          </p>
          {track.stops.length > 0 && (
            <ol className="stops compact" id="playback-stops" aria-label="Stops on the timeline">
              {track.stops.map((s) => (
                <li key={s.visit.id}>
                  <button type="button" className="link" onClick={() => {
                    setPlaying(false);
                    setT(Math.max(track.from, Math.min(track.to, s.arrived)));
                  }}>
                    #{s.visit.sequenceNumber} {s.name}
                  </button>{" "}
                  <span className="muted">arrived {formatClock(s.arrived, true)} · left {formatClock(s.departed, true)}</span>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}
