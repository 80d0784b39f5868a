import Domain

/// Key names. Ids are length-prefixed so that no two (tenant, id) pairs share a key, whatever they contain.
enum RedisKeys {
    static func scoped(_ kind: String, _ tenant: TenantID, _ id: String) -> [UInt8] {
        Array("tracker:\(kind):\(tenant.rawValue.utf8.count):\(tenant.rawValue):\(id)".utf8)
    }

    static func tenant(_ kind: String, _ tenant: TenantID) -> [UInt8] {
        Array("tracker:\(kind):\(tenant.rawValue.utf8.count):\(tenant.rawValue)".utf8)
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
}
