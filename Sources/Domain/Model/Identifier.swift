/// A typed identifier: a `DriverID` cannot be passed where a `RouteID` is expected.
///
/// Identifiers are opaque strings (UUIDs, SQL Server keys rendered as text, Traccar unique ids).
public struct Identifier<Entity>: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public var rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public typealias TenantID = Identifier<Tenant>
public typealias DriverID = Identifier<Driver>
public typealias RouteID = Identifier<Route>
public typealias VisitID = Identifier<PlannedVisit>
public typealias CustomerID = Identifier<Customer>
public typealias AccountID = Identifier<Account>
public typealias ProductID = Identifier<Product>
public typealias OrderID = Identifier<Order>

/// Traccar's `device.uniqueId` (IMEI or phone id): how a position is matched to a driver.
public typealias DeviceID = Identifier<Device>

/// Marker type for `DeviceID`: the tracking hardware itself is not an entity of ours.
public enum Device {}
