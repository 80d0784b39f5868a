public import Domain

/// Input of `CustomerAdministration.upsert`.
public struct NewCustomer: Hashable, Sendable, Codable {
    public var name: String
    public var phone: String?
    public var address: String?
    public var latitude: Double
    public var longitude: Double
    public var geofenceRadiusMeters: Double?
    public var customerType: String?

    public init(
        name: String,
        phone: String? = nil,
        address: String? = nil,
        latitude: Double,
        longitude: Double,
        geofenceRadiusMeters: Double? = nil,
        customerType: String? = nil
    ) {
        self.name = name
        self.phone = phone
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.geofenceRadiusMeters = geofenceRadiusMeters
        self.customerType = customerType
    }
}

/// Customer writes in local mode: they go to the local source of truth, whose change events flow back
/// through `cdc.Customers` and `ApplyChangeEvent` exactly like Debezium's in production. The read model
/// is therefore updated asynchronously (normally within milliseconds).
public struct CustomerAdministration: Sendable {
    let sourceOfTruth: any SourceOfTruth
    let reference: any ReferenceStore

    public init(sourceOfTruth: any SourceOfTruth, reference: any ReferenceStore) {
        self.sourceOfTruth = sourceOfTruth
        self.reference = reference
    }

    /// Every customer of the caller's tenant from the read model (the dashboard's markers and geofences).
    public func list(as principal: Principal) async throws -> [Customer] {
        try authorize { () throws(AccessDenied) in try AccessPolicy.read(principal, tenant: principal.tenantId) }
        return try await reference.customers(tenantId: principal.tenantId)
    }

    public func upsert(_ input: NewCustomer, id: CustomerID, as principal: Principal) async throws -> Customer {
        try authorize { () throws(AccessDenied) in try AccessPolicy.manageFleet(principal, tenant: principal.tenantId) }
        guard sourceOfTruth.isWritable else {
            throw UseCaseError(.unsupported, "customers are written in the core database in this deployment")
        }
        try Validation.identifier(id.rawValue, field: "id")
        try Validation.nonEmpty(input.name, field: "name")
        guard input.latitude.isFinite, (-90...90).contains(input.latitude) else {
            throw UseCaseError(.invalid, "latitude must be within [-90, 90]", field: "latitude")
        }
        guard input.longitude.isFinite, (-180...180).contains(input.longitude) else {
            throw UseCaseError(.invalid, "longitude must be within [-180, 180]", field: "longitude")
        }
        let radius = input.geofenceRadiusMeters ?? Customer.defaultGeofenceRadiusMeters
        guard radius.isFinite, (5...10_000).contains(radius) else {
            throw UseCaseError(
                .invalid,
                "geofenceRadiusMeters must be within [5, 10000]",
                field: "geofenceRadiusMeters"
            )
        }
        let customer = Customer(
            id: id,
            tenantId: principal.tenantId,
            name: input.name,
            phone: input.phone,
            address: input.address,
            location: Coordinate(latitude: input.latitude, longitude: input.longitude),
            geofenceRadiusMeters: radius,
            customerType: input.customerType
        )
        do {
            try await sourceOfTruth.upsert(.customer(customer))
        } catch let error as StoreError where error.code == .conflict {
            // Another tenant owns the id: answer as if it did not exist, so ids do not leak across tenants.
            throw UseCaseError(.notFound, "no customer \(id)")
        }
        return customer
    }

    public func delete(_ id: CustomerID, as principal: Principal) async throws {
        try authorize { () throws(AccessDenied) in try AccessPolicy.manageFleet(principal, tenant: principal.tenantId) }
        guard sourceOfTruth.isWritable else {
            throw UseCaseError(.unsupported, "customers are written in the core database in this deployment")
        }
        guard try await sourceOfTruth.delete(.customer(id), tenantId: principal.tenantId) else {
            throw UseCaseError(.notFound, "no customer \(id)")
        }
    }
}
