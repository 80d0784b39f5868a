public import Domain

/// Which topic a tenant's positions go to (spec §10): shared topics with a tenant header by default,
/// dedicated `gps.positions.<tenant>` topics for premium tenants named in configuration.
public struct TopicRouting: Sendable, Hashable {
    public var dedicatedTenants: Set<TenantID>

    public init(dedicatedTenants: Set<TenantID> = []) {
        self.dedicatedTenants = dedicatedTenants
    }

    public func positions(for tenant: TenantID) -> Topic {
        dedicatedTenants.contains(tenant) ? Topic("\(Topic.positions.name).\(tenant)") : .positions
    }

    /// Every raw-position topic the enrichment consumer must read.
    public var allPositionTopics: [Topic] {
        [.positions] + dedicatedTenants.sorted().map { positions(for: $0) }
    }
}

/// Header sets of our own messages.
enum Headers {
    static func make(tenant: TenantID, type: String) -> [String: String] {
        [
            MessageHeader.tenantId: tenant.rawValue,
            MessageHeader.eventType: type,
            MessageHeader.schemaVersion: "1",
            MessageHeader.contentType: "application/json",
        ]
    }
}
