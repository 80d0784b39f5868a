// Types of the browser globals the dashboard uses: React 18.3.1 / ReactDOM (UMD), Leaflet 1.9.4 (`L`) and
// socket.io-client 4.8.1 (`io`). No @types packages exist offline, so this declares the subset in use; the
// libraries themselves are loaded by index.html from pinned, hash-checked files (scripts/build-dashboard).

declare namespace React {
  type Key = string | number;
  interface ReactElement {
    type: unknown;
    props: unknown;
    key: Key | null;
  }
  type ReactNode = ReactElement | string | number | boolean | null | undefined | ReactNode[];
  type FC<P = Record<string, never>> = (props: P) => ReactElement | null;
  type SetState<S> = (value: S | ((previous: S) => S)) => void;
  interface RefObject<T> {
    current: T;
  }
  function createElement(type: unknown, props?: unknown, ...children: unknown[]): ReactElement;
  const Fragment: unknown;
  function useState<S>(initial: S | (() => S)): [S, SetState<S>];
  function useEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
  function useLayoutEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
  function useRef<T>(initial: T): RefObject<T>;
  function useMemo<T>(factory: () => T, deps: readonly unknown[]): T;
  function useCallback<T extends (...args: never[]) => unknown>(callback: T, deps: readonly unknown[]): T;
  function useReducer<S, A>(reducer: (state: S, action: A) => S, initial: S): [S, (action: A) => void];
  function useSyncExternalStore<T>(subscribe: (onChange: () => void) => () => void, snapshot: () => T): T;
  function memo<P>(component: FC<P>): FC<P>;
}

declare namespace ReactDOM {
  interface Root {
    render(element: React.ReactElement): void;
    unmount(): void;
  }
  function createRoot(container: Element): Root;
  function flushSync<T>(fn: () => T): T;
}

declare namespace JSX {
  interface Element extends React.ReactElement {}
  interface IntrinsicElements {
    // deno-lint-ignore no-explicit-any
    [name: string]: any;
  }
  interface IntrinsicAttributes {
    key?: React.Key;
  }
  interface ElementChildrenAttribute {
    children: unknown;
  }
}

declare namespace L {
  type LatLngTuple = [number, number];
  interface LatLng {
    lat: number;
    lng: number;
    distanceTo(other: LatLngExpression): number;
  }
  type LatLngExpression = LatLng | LatLngTuple;
  interface Point {
    x: number;
    y: number;
  }
  interface LatLngBounds {
    contains(p: LatLngExpression): boolean;
    pad(ratio: number): LatLngBounds;
    getSouthWest(): LatLng;
    getNorthEast(): LatLng;
  }
  interface LeafletEvent {
    type: string;
    target: unknown;
  }
  interface LeafletMouseEvent extends LeafletEvent {
    latlng: LatLng;
    containerPoint: Point;
    originalEvent: MouseEvent;
  }
  interface Evented {
    on(type: string, fn: (e: any) => void, context?: unknown): this;
    off(type: string, fn?: (e: any) => void, context?: unknown): this;
  }
  interface Layer extends Evented {
    addTo(map: Map | LayerGroup): this;
    remove(): this;
    bindTooltip(content: string, options?: Record<string, unknown>): this;
  }
  interface Path extends Layer {
    setStyle(style: Record<string, unknown>): this;
    bringToFront(): this;
  }
  interface Polyline extends Path {
    setLatLngs(latlngs: LatLngExpression[]): this;
    getBounds(): LatLngBounds;
  }
  interface CircleMarker extends Path {
    setLatLng(latlng: LatLngExpression): this;
    getLatLng(): LatLng;
    setRadius(r: number): this;
  }
  interface LayerGroup extends Layer {
    clearLayers(): this;
    addLayer(layer: Layer): this;
  }
  interface TileLayer extends Layer {}
  interface Renderer extends Layer {}
  interface Control {
    addTo(map: Map): this;
  }
  interface ControlAttribution extends Control {
    addAttribution(text: string): this;
    setPrefix(prefix: string | false): this;
  }
  interface Map extends Evented {
    setView(center: LatLngExpression, zoom?: number, options?: Record<string, unknown>): this;
    panTo(center: LatLngExpression, options?: Record<string, unknown>): this;
    flyTo(center: LatLngExpression, zoom?: number, options?: Record<string, unknown>): this;
    fitBounds(bounds: LatLngBounds | LatLngTuple[], options?: Record<string, unknown>): this;
    getZoom(): number;
    getCenter(): LatLng;
    getSize(): Point;
    getBounds(): LatLngBounds;
    getPane(name: string): HTMLElement | undefined;
    createPane(name: string): HTMLElement;
    latLngToContainerPoint(latlng: LatLngExpression): Point;
    containerPointToLatLng(p: Point | [number, number]): LatLng;
    project(latlng: LatLngExpression, zoom?: number): Point;
    containerPointToLayerPoint(p: Point | [number, number]): Point;
    invalidateSize(): this;
    remove(): this;
    attributionControl: ControlAttribution;
    getContainer(): HTMLElement;
  }
  interface LayerStatic {
    extend(props: Record<string, unknown>): new (options?: Record<string, unknown>) => Layer;
  }
  const Layer: LayerStatic;
  const DomUtil: {
    create(tag: string, className?: string, container?: HTMLElement): HTMLElement;
    setPosition(el: HTMLElement, point: Point): void;
    remove(el: HTMLElement): void;
  };
  const Browser: { retina: boolean };
  function map(el: HTMLElement, options?: Record<string, unknown>): Map;
  function tileLayer(url: string, options?: Record<string, unknown>): TileLayer;
  function polyline(latlngs: LatLngExpression[], options?: Record<string, unknown>): Polyline;
  function circleMarker(latlng: LatLngExpression, options?: Record<string, unknown>): CircleMarker;
  function layerGroup(layers?: Layer[]): LayerGroup;
  function canvas(options?: Record<string, unknown>): Renderer;
  function latLng(lat: number, lng: number): LatLng;
  function latLngBounds(a: LatLngExpression, b: LatLngExpression): LatLngBounds;
  function point(x: number, y: number): Point;
}

interface SocketOptions {
  auth?: Record<string, unknown>;
  transports?: string[];
  reconnection?: boolean;
  reconnectionDelay?: number;
  reconnectionDelayMax?: number;
  timeout?: number;
}

interface ManagerLike {
  on(event: string, fn: (...args: any[]) => void): ManagerLike;
  off(event: string, fn?: (...args: any[]) => void): ManagerLike;
  engine?: { transport?: { name: string } };
}

interface Socket {
  id: string | undefined;
  connected: boolean;
  recovered: boolean;
  active: boolean;
  io: ManagerLike;
  auth: Record<string, unknown>;
  on(event: string, fn: (...args: any[]) => void): Socket;
  off(event: string, fn?: (...args: any[]) => void): Socket;
  emit(event: string, ...args: unknown[]): Socket;
  timeout(ms: number): { emit(event: string, ...args: unknown[]): Socket };
  connect(): Socket;
  disconnect(): Socket;
}

declare function io(url: string, options?: SocketOptions): Socket;
