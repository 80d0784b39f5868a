/// Read models synced from the source of truth (SQL Server in production) by change data capture.
///
/// `version` is the source's ordering key (Debezium `(commit_lsn, change_lsn, event_serial_no)` rendered as
/// fixed-width text); a change whose version is not newer than the stored one is stale and ignored.

/// A customer location that drivers visit.
public struct Customer: Hashable, Sendable, Codable {
    public static let defaultGeofenceRadiusMeters: Double = 100

    public var id: CustomerID
    public var tenantId: TenantID
    public var name: String
    public var phone: String?
    public var address: String?
    public var location: Coordinate
    public var geofenceRadiusMeters: Double
    public var customerType: String?
    public var version: String?

    public init(
        id: CustomerID,
        tenantId: TenantID,
        name: String,
        phone: String? = nil,
        address: String? = nil,
        location: Coordinate,
        geofenceRadiusMeters: Double = Customer.defaultGeofenceRadiusMeters,
        customerType: String? = nil,
        version: String? = nil
    ) {
        self.id = id
        self.tenantId = tenantId
        self.name = name
        self.phone = phone
        self.address = address
        self.location = location
        self.geofenceRadiusMeters = geofenceRadiusMeters
        self.customerType = customerType
        self.version = version
    }
}

public struct Account: Hashable, Sendable, Codable {
    public var id: AccountID
    public var tenantId: TenantID
    public var name: String
    public var accountType: String?
    public var settings: [String: String]
    public var version: String?

    public init(
        id: AccountID,
        tenantId: TenantID,
        name: String,
        accountType: String? = nil,
        settings: [String: String] = [:],
        version: String? = nil
    ) {
        self.id = id
        self.tenantId = tenantId
        self.name = name
        self.accountType = accountType
        self.settings = settings
        self.version = version
    }
}

public struct Product: Hashable, Sendable, Codable {
    public var id: ProductID
    public var tenantId: TenantID
    public var name: String
    public var sku: String?
    public var category: String?
    /// Decimal text exactly as the source wrote it (no binary floating point for money).
    public var unitPrice: String?
    public var version: String?

    public init(
        id: ProductID,
        tenantId: TenantID,
        name: String,
        sku: String? = nil,
        category: String? = nil,
        unitPrice: String? = nil,
        version: String? = nil
    ) {
        self.id = id
        self.tenantId = tenantId
        self.name = name
        self.sku = sku
        self.category = category
        self.unitPrice = unitPrice
        self.version = version
    }
}

public struct Order: Hashable, Sendable, Codable {
    public var id: OrderID
    public var tenantId: TenantID
    public var customerId: CustomerID?
    public var status: String?
    /// Decimal text exactly as the source wrote it.
    public var totalAmount: String?
    public var version: String?

    public init(
        id: OrderID,
        tenantId: TenantID,
        customerId: CustomerID? = nil,
        status: String? = nil,
        totalAmount: String? = nil,
        version: String? = nil
    ) {
        self.id = id
        self.tenantId = tenantId
        self.customerId = customerId
        self.status = status
        self.totalAmount = totalAmount
        self.version = version
    }
}
