public import Domain

/// Input of `DriverManagement.create`.
public struct NewDriver: Hashable, Sendable, Codable {
    public var id: DriverID?
    public var deviceId: DeviceID
    public var name: String
    public var phone: String?
    public var vehiclePlate: String?
    public var vehicleType: VehicleType?

    public init(
        id: DriverID? = nil,
        deviceId: DeviceID,
        name: String,
        phone: String? = nil,
        vehiclePlate: String? = nil,
        vehicleType: VehicleType? = nil
    ) {
        self.id = id
        self.deviceId = deviceId
        self.name = name
        self.phone = phone
        self.vehiclePlate = vehiclePlate
        self.vehicleType = vehicleType
    }
}

/// Drivers of a tenant: list, read, register.
public struct DriverManagement: Sendable {
    let fleet: any FleetStore
    let ids: IdentifierFactory

    public init(fleet: any FleetStore, ids: IdentifierFactory = .random) {
        self.fleet = fleet
        self.ids = ids
    }

    public func list(as principal: Principal) async throws -> [Driver] {
        try await fleet.drivers(tenantId: principal.tenantId)
    }

    public func get(_ id: DriverID, as principal: Principal) async throws -> Driver {
        guard let driver = try await fleet.driver(id, tenantId: principal.tenantId) else {
            throw UseCaseError(.notFound, "no driver \(id)")
        }
        return driver
    }

    public func create(_ input: NewDriver, as principal: Principal) async throws -> Driver {
        try authorize { () throws(AccessDenied) in try AccessPolicy.manageFleet(principal, tenant: principal.tenantId) }
        try Validation.nonEmpty(input.name, field: "name")
        try Validation.deviceId(input.deviceId.rawValue, field: "deviceId")
        let id = input.id ?? DriverID(ids.make())
        try Validation.identifier(id.rawValue, field: "id")
        if let existing = try await fleet.driver(id, tenantId: principal.tenantId), existing.deviceId != input.deviceId
        {
            throw UseCaseError(.conflict, "driver \(id) exists with another device")
        }
        let driver = Driver(
            id: id,
            tenantId: principal.tenantId,
            deviceId: input.deviceId,
            name: input.name,
            phone: input.phone,
            vehiclePlate: input.vehiclePlate,
            vehicleType: input.vehicleType ?? .van
        )
        do {
            try await fleet.saveDriver(driver)
        } catch let error as StoreError where error.code == .duplicate {
            throw UseCaseError(
                .conflict,
                "device \(input.deviceId) is already assigned to another driver",
                field: "deviceId"
            )
        }
        return driver
    }
}

/// Runs an access-policy check, turning a denial into `UseCaseError.forbidden`.
func authorize(_ check: () throws(AccessDenied) -> Void) throws(UseCaseError) {
    do {
        try check()
    } catch {
        throw UseCaseError.from(error)
    }
}

/// Input checks shared by the use cases, and by the HTTP adapter where it refuses the same input before them.
/// `openapi.yaml` states each rule as a schema (`Identifier`, `DeviceId`, `NonBlank`).
package enum Validation {
    /// The longest id, and Traccar device id (`uniqueId`), in characters (Unicode scalars, as JSON Schema's
    /// `maxLength` counts them).
    package static let maxIdentifierLength = 128

    /// Whether `value` has only Unicode `White_Space` characters (or none): the complement of `openapi.yaml`'s
    /// `NonBlank` pattern.
    package static func isBlank(_ value: String) -> Bool {
        !value.unicodeScalars.contains { !$0.properties.isWhitespace }
    }

    static func nonEmpty(_ value: String, field: String) throws(UseCaseError) {
        if isBlank(value) { throw UseCaseError(.invalid, "\(field) must not be empty", field: field) }
    }

    /// A Traccar device id (`device.uniqueId`): 1–128 characters, not blank.
    static func deviceId(_ value: String, field: String) throws(UseCaseError) {
        try nonEmpty(value, field: field)
        guard value.unicodeScalars.count <= maxIdentifierLength else {
            throw UseCaseError(.invalid, "\(field) must be at most \(maxIdentifierLength) characters", field: field)
        }
    }

    /// Ids appear in URLs, topic keys and room names: printable ASCII without separators, ≤ 128 characters, and
    /// neither `.` nor `..` (dot segments, which clients remove from URL paths: RFC 3986 §5.2.4).
    package static func identifier(_ value: String, field: String) throws(UseCaseError) {
        let ok =
            !value.isEmpty && value.utf8.count <= maxIdentifierLength && value != "." && value != ".."
            && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
        if !ok {
            throw UseCaseError(
                .invalid,
                "\(field) must be 1–128 printable ASCII characters without '/' or ':', and not '.' or '..'",
                field: field
            )
        }
    }
}

/// Makes new identifiers (random UUID-like by default; sequential in tests and the demo).
public struct IdentifierFactory: Sendable {
    let make: @Sendable () -> String

    public init(_ make: @escaping @Sendable () -> String) { self.make = make }

    /// 128 random bits as a lowercase UUID string.
    public static let random = IdentifierFactory {
        var g = SystemRandomNumberGenerator()
        let a = g.next() as UInt64
        let b = g.next() as UInt64
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: digits - s.count) + s
        }
        let h = hex(a, 16) + hex(b, 16)
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20])
            + "-" + String(c[20..<32])
    }
}
