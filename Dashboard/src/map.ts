// The live map: Leaflet (preferCanvas) with three canvas overlays drawn by hand — the demo's street basemap,
// customers (and geofence circles when zoomed in), and the fleet. One canvas draw per position batch keeps
// 1,000 drivers at 1 Hz far below a frame's budget; Leaflet's own canvas renderer draws the playback track.
import type { Basemap, Customer, HistoryPoint } from "./types.ts";
import { activityColor, toMillis } from "./types.ts";
import type { DriverRow, FleetStore } from "./store.ts";

type Draw = (ctx: CanvasRenderingContext2D, map: L.Map, width: number, height: number) => void;

interface Overlay extends L.Layer {
  redraw(): void;
}

/** A canvas covering the map viewport, redrawn on move/zoom/resize and on demand. */
const CanvasOverlay = L.Layer.extend({
  initialize(this: any, options: { draw: Draw; pane: string }) {
    this._drawFn = options.draw;
    this._paneName = options.pane;
  },
  onAdd(this: any, map: L.Map) {
    this._map = map;
    this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide dt-canvas");
    this._canvas.setAttribute("aria-hidden", "true");
    map.getPane(this._paneName)!.appendChild(this._canvas);
    map.on("moveend zoomend resize viewreset", this._reset, this);
    this._reset();
  },
  onRemove(this: any, map: L.Map) {
    map.off("moveend zoomend resize viewreset", this._reset, this);
    L.DomUtil.remove(this._canvas);
  },
  _reset(this: any) {
    const map: L.Map = this._map;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    L.DomUtil.setPosition(this._canvas, map.containerPointToLayerPoint([0, 0]));
    if (this._w !== size.x || this._h !== size.y || this._ratio !== ratio) {
      this._canvas.width = Math.round(size.x * ratio);
      this._canvas.height = Math.round(size.y * ratio);
      this._canvas.style.width = `${size.x}px`;
      this._canvas.style.height = `${size.y}px`;
      this._w = size.x;
      this._h = size.y;
      this._ratio = ratio;
    }
    this.redraw();
  },
  redraw(this: any) {
    if (!this._map) return;
    const ctx: CanvasRenderingContext2D = this._canvas.getContext("2d");
    ctx.setTransform(this._ratio, 0, 0, this._ratio, 0, 0);
    ctx.clearRect(0, 0, this._w, this._h);
    this._drawFn(ctx, this._map, this._w, this._h);
  },
}) as unknown as new (options: { draw: Draw; pane: string }) => Overlay;

function metersPerPixel(map: L.Map): number {
  return 40075016.686 * Math.cos((map.getCenter().lat * Math.PI) / 180) / Math.pow(2, map.getZoom() + 8);
}

export interface FleetMapOptions {
  tiles?: { url: string; attribution: string };
  onDriverClick(id: string): void;
  onUserPan(): void;
}

export class FleetMap {
  readonly map: L.Map;
  private streets: Basemap | null = null;
  private customers: Customer[] = [];
  private readonly fleet: Overlay;
  private readonly customerLayer: Overlay;
  private readonly basemapLayer: Overlay;
  selected: string | null = null;
  follow = false;
  private track: L.Polyline | null = null;
  private trackMarker: L.CircleMarker | null = null;
  private trackStops: L.LayerGroup | null = null;
  private readonly playbackRenderer: L.Renderer;
  /** Drivers drawn in the last frame (for tests and the status line). */
  drawn = 0;

  constructor(el: HTMLElement, private readonly store: FleetStore, private readonly options: FleetMapOptions) {
    this.map = L.map(el, {
      preferCanvas: true,
      zoomControl: true,
      attributionControl: true,
      keyboard: true,
      minZoom: 3,
      maxZoom: 19,
      zoomSnap: 0.25,
      zoomDelta: 0.5,
    });
    this.map.attributionControl.setPrefix(false);
    this.map.setView([52.52, 13.405], 13);
    this.map.createPane("dtBasemap").style.zIndex = "150";
    this.map.createPane("dtCustomers").style.zIndex = "420";
    this.map.createPane("dtFleet").style.zIndex = "450";
    // Playback draws above the live fleet, with Leaflet's own canvas renderer.
    this.map.createPane("dtPlayback").style.zIndex = "460";
    this.playbackRenderer = L.canvas({ pane: "dtPlayback" });
    const fleetPane = this.map.getPane("dtFleet")!;
    fleetPane.style.pointerEvents = "none";
    this.map.getPane("dtCustomers")!.style.pointerEvents = "none";

    if (options.tiles) {
      L.tileLayer(options.tiles.url, { attribution: options.tiles.attribution, maxZoom: 19, crossOrigin: true })
        .addTo(this.map);
    } else {
      el.classList.add("dt-offline-map");
    }
    this.basemapLayer = new CanvasOverlay({ pane: "dtBasemap", draw: (c, m) => this.drawBasemap(c, m) });
    this.customerLayer = new CanvasOverlay({ pane: "dtCustomers", draw: (c, m, w, h) => this.drawCustomers(c, m, w, h) });
    this.fleet = new CanvasOverlay({ pane: "dtFleet", draw: (c, m, w, h) => this.drawFleet(c, m, w, h) });
    this.basemapLayer.addTo(this.map);
    this.customerLayer.addTo(this.map);
    this.fleet.addTo(this.map);

    this.map.on("click", (e: L.LeafletMouseEvent) => {
      const id = this.hitTest(e.containerPoint);
      if (id) options.onDriverClick(id);
    });
    this.map.on("dragstart", () => options.onUserPan());
  }

  setBasemap(basemap: Basemap): void {
    this.streets = basemap;
    this.map.attributionControl.addAttribution("Demo street network (simulated)");
    this.map.fitBounds([basemap.bounds[0], basemap.bounds[1]], { padding: [10, 10] });
    this.basemapLayer.redraw();
  }

  setCustomers(customers: Customer[]): void {
    this.customers = customers;
    this.customerLayer.redraw();
  }

  /** Redraws the fleet (after a batch) and keeps the followed driver in view. */
  update(): void {
    if (this.follow && this.selected) {
      const row = this.store.rows.get(this.selected);
      if (row?.hasPosition) {
        const p = this.map.latLngToContainerPoint([row.lat, row.lng]);
        const size = this.map.getSize();
        // Pan only when the driver leaves the central half, so following does not jitter every second.
        if (p.x < size.x * 0.25 || p.x > size.x * 0.75 || p.y < size.y * 0.25 || p.y > size.y * 0.75) {
          this.map.panTo([row.lat, row.lng], { animate: false });
          return; // moveend redraws
        }
      }
    }
    this.fleet.redraw();
  }

  focus(id: string): void {
    const row = this.store.rows.get(id);
    if (!row?.hasPosition) return;
    this.map.setView([row.lat, row.lng], Math.max(this.map.getZoom(), 15), { animate: false });
  }

  private hitTest(p: L.Point): string | null {
    let best: string | null = null;
    let bestDistance = 14 * 14;
    for (const row of this.store.rows.values()) {
      if (!row.hasPosition) continue;
      const q = this.map.latLngToContainerPoint([row.lat, row.lng]);
      const d = (q.x - p.x) ** 2 + (q.y - p.y) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = row.id;
      }
    }
    return best;
  }

  private drawBasemap(ctx: CanvasRenderingContext2D, map: L.Map): void {
    const b = this.streets;
    if (!b) return;
    const zoom = map.getZoom();
    const width = Math.max(1, Math.min(10, (zoom - 11) * 2));
    ctx.lineCap = "round";
    for (const [pass, color, extra] of [[0, "#c9ccd3", 2], [1, "#ffffff", 0]] as const) {
      void pass;
      ctx.strokeStyle = color;
      ctx.lineWidth = width + extra;
      ctx.beginPath();
      for (const [lat1, lng1, lat2, lng2] of b.streets) {
        const a = map.latLngToContainerPoint([lat1, lng1]);
        const c = map.latLngToContainerPoint([lat2, lng2]);
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(c.x, c.y);
      }
      ctx.stroke();
    }
    ctx.fillStyle = "#4b5563";
    const depot = zoom >= 14 ? 10 : 6;
    for (const [lat, lng] of b.depots) {
      const p = map.latLngToContainerPoint([lat, lng]);
      ctx.fillRect(p.x - depot / 2, p.y - depot / 2, depot, depot);
    }
  }

  private drawCustomers(ctx: CanvasRenderingContext2D, map: L.Map, w: number, h: number): void {
    const zoom = map.getZoom();
    if (zoom < 12 || this.customers.length === 0) return;
    const geofences = zoom >= 15;
    const mpp = metersPerPixel(map);
    ctx.fillStyle = "#7b3fa0";
    ctx.strokeStyle = "rgba(123, 63, 160, 0.55)";
    ctx.lineWidth = 1;
    const size = zoom >= 15 ? 6 : 4;
    for (const c of this.customers) {
      const p = map.latLngToContainerPoint([c.latitude, c.longitude]);
      const r = geofences ? c.geofenceRadiusMeters / mpp : 0;
      if (p.x < -r - 8 || p.y < -r - 8 || p.x > w + r + 8 || p.y > h + r + 8) continue;
      if (geofences) {
        ctx.beginPath();
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
        ctx.fillStyle = "rgba(123, 63, 160, 0.07)";
        ctx.fill();
        ctx.stroke();
        ctx.fillStyle = "#7b3fa0";
      }
      ctx.fillRect(p.x - size / 2, p.y - size / 2, size, size);
    }
  }

  private drawFleet(ctx: CanvasRenderingContext2D, map: L.Map, w: number, h: number): void {
    const zoom = map.getZoom();
    const scale = zoom >= 15 ? 1.25 : zoom >= 13 ? 1 : 0.75;
    const project = projector(map);
    // One path per status colour and one for the late rings: a handful of fill/stroke calls per frame instead
    // of two per driver.
    const paths = { offline: new Path2D(), stopped: new Path2D(), at_customer: new Path2D(), moving: new Path2D() };
    const late = new Path2D();
    // Late: a ring around the marker; tight when zoomed out, where most of a city's drivers share the screen.
    const radius = 5.5 * scale, ring = zoom >= 14 ? 10 * scale : radius + 2.5;
    let drawn = 0;
    let selected: DriverRow | null = null;
    const xy: [number, number] = [0, 0];
    for (const row of this.store.rows.values()) {
      if (!row.hasPosition) continue;
      project(row.lat, row.lng, xy);
      const x = xy[0], y = xy[1];
      if (x < -20 || y < -20 || x > w + 20 || y > h + 20) continue;
      drawn++;
      if (row.id === this.selected) {
        selected = row;
        continue; // drawn last, on top
      }
      const path = paths[row.activity];
      if (row.activity === "moving") addDart(path, x, y, row.heading, scale);
      else {
        path.moveTo(x + radius, y);
        path.arc(x, y, radius, 0, Math.PI * 2);
      }
      if (row.late) {
        late.moveTo(x + ring, y);
        late.arc(x, y, ring, 0, Math.PI * 2);
      }
    }
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    for (const activity of ["offline", "stopped", "at_customer", "moving"] as const) {
      ctx.fillStyle = activityColor[activity];
      ctx.fill(paths[activity]);
      ctx.stroke(paths[activity]);
    }
    ctx.strokeStyle = "#d62728";
    ctx.lineWidth = scale < 1 ? 1.25 : 2;
    ctx.stroke(late);
    if (selected) {
      project(selected.lat, selected.lng, xy);
      const [x, y] = xy;
      ctx.beginPath();
      ctx.arc(x, y, 16, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(17, 24, 39, 0.15)";
      ctx.fill();
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#111827";
      ctx.stroke();
      const path = new Path2D();
      if (selected.activity === "moving") addDart(path, x, y, selected.heading, scale * 1.5);
      else path.arc(x, y, radius * 1.5, 0, Math.PI * 2);
      ctx.fillStyle = activityColor[selected.activity];
      ctx.fill(path);
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke(path);
      if (selected.late) {
        ctx.beginPath();
        ctx.arc(x, y, 20, 0, Math.PI * 2);
        ctx.strokeStyle = "#d62728";
        ctx.stroke();
      }
    }
    this.drawn = drawn;
  }

  // MARK: Playback

  showTrack(points: HistoryPoint[], stops: { lat: number; lng: number; label: string }[]): void {
    this.clearTrack();
    const latlngs: L.LatLngTuple[] = points.map((p) => [p.latitude, p.longitude]);
    this.track = L.polyline(latlngs, {
      color: "#d62728",
      weight: 4,
      opacity: 0.8,
      interactive: false,
      renderer: this.playbackRenderer,
    }).addTo(this.map);
    this.trackStops = L.layerGroup().addTo(this.map);
    for (const s of stops) {
      L.circleMarker([s.lat, s.lng], {
        radius: 7,
        color: "#111827",
        weight: 2,
        fillColor: "#fde047",
        fillOpacity: 1,
        renderer: this.playbackRenderer,
      })
        .bindTooltip(s.label).addTo(this.trackStops);
    }
    if (latlngs.length > 0) {
      this.trackMarker = L.circleMarker(latlngs[0], {
        radius: 9,
        color: "#ffffff",
        weight: 3,
        fillColor: "#d62728",
        fillOpacity: 1,
        interactive: false,
        renderer: this.playbackRenderer,
      }).addTo(this.map);
      this.map.fitBounds(this.track.getBounds(), { padding: [40, 40], maxZoom: 16 });
    }
  }

  moveTrackMarker(lat: number, lng: number, follow: boolean): void {
    this.trackMarker?.setLatLng([lat, lng]);
    if (follow) this.map.panTo([lat, lng], { animate: false });
  }

  trackMarkerPosition(): [number, number] | null {
    const p = this.trackMarker?.getLatLng();
    return p ? [p.lat, p.lng] : null;
  }

  clearTrack(): void {
    this.track?.remove();
    this.trackMarker?.remove();
    this.trackStops?.remove();
    this.track = null;
    this.trackMarker = null;
    this.trackStops = null;
  }

  destroy(): void {
    this.map.remove();
  }
}

/** A dart pointing along `heading` (0° = north, clockwise), added to `path`. */
function addDart(path: Path2D, x: number, y: number, heading: number, scale: number): void {
  const a = (heading * Math.PI) / 180;
  const sin = Math.sin(a) * scale, cos = Math.cos(a) * scale;
  path.moveTo(x - 9 * -sin, y - 9 * cos);
  path.lineTo(x + 6 * cos - 6 * sin, y + 6 * sin + 6 * cos);
  path.lineTo(x - 3 * sin, y + 3 * cos);
  path.lineTo(x - 6 * cos - 6 * sin, y - 6 * sin + 6 * cos);
  path.closePath();
}

/**
 * Web Mercator (EPSG:3857, Leaflet's default CRS) from lat/lng to container pixels, without allocating: the
 * same numbers as `map.latLngToContainerPoint`, computed once per frame for the origin only.
 */
function projector(map: L.Map): (lat: number, lng: number, out: [number, number]) => void {
  const zoom = map.getZoom();
  const scale = 256 * Math.pow(2, zoom);
  const origin = map.project(map.containerPointToLatLng([0, 0]), zoom);
  const maxLat = 85.0511287798;
  return (lat, lng, out) => {
    const phi = (Math.max(-maxLat, Math.min(maxLat, lat)) * Math.PI) / 180;
    out[0] = ((lng + 180) / 360) * scale - origin.x;
    out[1] = (0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI)) * scale - origin.y;
  };
}

export { toMillis };
