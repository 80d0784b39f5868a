package import Domain
import Foundation

/// A point in a local east/north frame, in metres from the scenario's centre.
package struct LocalPoint: Hashable, Sendable {
    package var x: Double
    package var y: Double

    package func distance(to other: LocalPoint) -> Double { hypot(other.x - x, other.y - y) }
}

/// An equirectangular projection around a centre: distances within ~0.5 % up to 30 km out, enough for the grid
/// (spacing rules that matter are checked with `Geo.distanceMeters`).
package struct LocalFrame: Hashable, Sendable {
    package static let earthRadiusMeters = Geo.earthRadiusMeters

    package var center: Coordinate

    package func coordinate(_ p: LocalPoint) -> Coordinate {
        let lat0 = center.latitude * .pi / 180
        let lat = center.latitude + (p.y / Self.earthRadiusMeters) * 180 / .pi
        let lon = center.longitude + (p.x / (Self.earthRadiusMeters * cos(lat0))) * 180 / .pi
        return Coordinate(latitude: lat, longitude: lon)
    }

    package func point(_ c: Coordinate) -> LocalPoint {
        let lat0 = center.latitude * .pi / 180
        let y = (c.latitude - center.latitude) * .pi / 180 * Self.earthRadiusMeters
        let x = (c.longitude - center.longitude) * .pi / 180 * Self.earthRadiusMeters * cos(lat0)
        return LocalPoint(x: x, y: y)
    }
}

/// A Manhattan street grid: vertical streets (constant x) and horizontal streets (constant y), each
/// spanning the whole grid.
package struct StreetGrid: Hashable, Sendable {
    /// x of every vertical (north–south) street, ascending.
    package var xs: [Double]
    /// y of every horizontal (east–west) street, ascending.
    package var ys: [Double]

    package var minX: Double { xs.first ?? 0 }
    package var maxX: Double { xs.last ?? 0 }
    package var minY: Double { ys.first ?? 0 }
    package var maxY: Double { ys.last ?? 0 }

    /// Which street a point lies on.
    package enum Street: Hashable, Sendable {
        case vertical(Int)
        case horizontal(Int)
    }

    /// A point on a street.
    package struct Spot: Hashable, Sendable {
        package var point: LocalPoint
        package var street: Street
    }

    /// Streets `halfExtent` metres either side of the centre, blocks `blockRange` metres apart.
    package static func make(halfExtent: Double, blockRange: ClosedRange<Double>, rng: inout SplitMix64) -> StreetGrid {
        func lines() -> [Double] {
            var values: [Double] = []
            var v = -halfExtent + rng.double(in: 0...blockRange.lowerBound / 2)
            while v <= halfExtent {
                values.append(v.rounded())
                v += rng.double(in: blockRange)
            }
            return values
        }
        return StreetGrid(xs: lines(), ys: lines())
    }

    package func spot(on street: Street, at offset: Double) -> Spot {
        switch street {
        case .vertical(let i): Spot(point: LocalPoint(x: xs[i], y: offset), street: street)
        case .horizontal(let j): Spot(point: LocalPoint(x: offset, y: ys[j]), street: street)
        }
    }

    /// The driving path from `a` to `b` along streets: along one axis, then the other, turning at the first
    /// cross street towards `b`. Consecutive duplicate points are removed; the first point is `a`, the last `b`.
    package func path(from a: Spot, to b: Spot) -> [LocalPoint] {
        var points = [a.point]
        switch (a.street, b.street) {
        case (.vertical(let i), .vertical(let k)):
            if i != k {
                let y = Self.crossing(ys, from: a.point.y, to: b.point.y)
                points.append(LocalPoint(x: xs[i], y: y))
                points.append(LocalPoint(x: xs[k], y: y))
            }
        case (.horizontal(let j), .horizontal(let l)):
            if j != l {
                let x = Self.crossing(xs, from: a.point.x, to: b.point.x)
                points.append(LocalPoint(x: x, y: ys[j]))
                points.append(LocalPoint(x: x, y: ys[l]))
            }
        case (.vertical(let i), .horizontal(let l)):
            points.append(LocalPoint(x: xs[i], y: ys[l]))
        case (.horizontal(let j), .vertical(let k)):
            points.append(LocalPoint(x: xs[k], y: ys[j]))
        }
        points.append(b.point)
        var cleaned: [LocalPoint] = []
        for p in points where cleaned.last.map({ $0.distance(to: p) > 0.01 }) ?? true { cleaned.append(p) }
        return cleaned
    }

    /// The cross street to turn at when going from `from` to `to` along one axis: the first one between them
    /// (nearest `from`), or the one with the shortest detour when both lie in the same block.
    package static func crossing(_ lines: [Double], from: Double, to: Double) -> Double {
        let lo = min(from, to)
        let hi = max(from, to)
        var best: Double?
        for v in lines where v >= lo && v <= hi {
            if best == nil || abs(v - from) < abs(best! - from) { best = v }
        }
        if let best { return best }
        var nearest = lines[0]
        for v in lines where abs(v - from) + abs(v - to) < abs(nearest - from) + abs(nearest - to) { nearest = v }
        return nearest
    }

    /// Cross streets passed strictly inside the axis-aligned segment `a`–`b` (not at its ends).
    package func crossings(from a: LocalPoint, to b: LocalPoint, margin: Double = 5) -> [LocalPoint] {
        if abs(a.y - b.y) < 0.01 {
            let lo = min(a.x, b.x) + margin
            let hi = max(a.x, b.x) - margin
            let hits = xs.filter { $0 > lo && $0 < hi }.map { LocalPoint(x: $0, y: a.y) }
            return a.x <= b.x ? hits : hits.reversed()
        } else {
            let lo = min(a.y, b.y) + margin
            let hi = max(a.y, b.y) - margin
            let hits = ys.filter { $0 > lo && $0 < hi }.map { LocalPoint(x: a.x, y: $0) }
            return a.y <= b.y ? hits : hits.reversed()
        }
    }

    /// Length of a polyline.
    package static func length(_ path: [LocalPoint]) -> Double {
        zip(path, path.dropFirst()).reduce(0) { $0 + $1.0.distance(to: $1.1) }
    }

    /// Shortest distance from `p` to a polyline.
    package static func distance(from p: LocalPoint, to path: [LocalPoint]) -> Double {
        guard let first = path.first else { return .infinity }
        var best = p.distance(to: first)
        for (a, b) in zip(path, path.dropFirst()) {
            let dx = b.x - a.x
            let dy = b.y - a.y
            let len2 = dx * dx + dy * dy
            let t = len2 > 0 ? max(0, min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0
            best = min(best, p.distance(to: LocalPoint(x: a.x + t * dx, y: a.y + t * dy)))
        }
        return best
    }
}
