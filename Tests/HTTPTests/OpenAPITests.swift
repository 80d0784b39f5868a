import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("OpenAPI document")
struct OpenAPITests {
    /// The (method, path) pairs under `paths:` of a YAML document written in block style (two-space indent).
    static func declaredOperations(_ yaml: String) -> Set<String> {
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var operations: Set<String> = []
        var inPaths = false
        var currentPath: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let indent = line.prefix(while: { $0 == " " }).count
            let content = line.dropFirst(indent)
            if indent == 0 {
                inPaths = content.hasPrefix("paths:")
                continue
            }
            guard inPaths, content.hasSuffix(":") else { continue }
            let key = String(content.dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            if indent == 2 {
                currentPath = key
            } else if indent == 4, let path = currentPath, methods.contains(key) {
                operations.insert("\(key.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// Every route is documented and every documented operation is routed.
    @Test func documentMatchesRouter() throws {
        let yaml = try #require(OpenAPIDocument.text)
        let documented = Self.declaredOperations(yaml)
        let routed = Set(TrackerAPI.routes.map(\.description))
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed")
        #expect(routed.subtracting(documented).isEmpty, "routed but not documented")
        #expect(documented.count == TrackerAPI.routes.count)
        #expect(yaml.hasPrefix("openapi: 3.1"))
        for scheme in ["bearerJWT:", "webhookSecret:", "application/problem+json", "Problem:"] {
            #expect(yaml.contains(scheme))
        }
    }

    /// Each listed route is really registered: it never answers the router's 404/405 for its own method.
    @Test func listedRoutesAreRegistered() async throws {
        try await TestAPI().test { client in
            for route in TrackerAPI.routes {
                let path = route.path.replacingOccurrences(of: "{id}", with: "x")
                let response = try await client.execute(uri: path, method: HTTPRequest.Method(route.method) ?? .get)
                #expect(![404, 405].contains(response.status.code), "\(route): \(response.status)")
                switch route.auth {
                case .jwt, .webhookSecret: #expect(response.status == .unauthorized, "\(route)")
                case .none: #expect(response.status.code < 400, "\(route)")
                case .development: #expect(response.status == .forbidden, "\(route): disabled by default")
                }
            }
        }
    }
}
