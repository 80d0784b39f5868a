import Application
import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1

extension SimulationRunner {
    /// What `seed(via:token:scenario:)` did.
    package struct SeedReport: Hashable, Sendable {
        package var customersCreated = 0
        /// True when the tracker answered 501: customers come from the core database (production mode).
        package var customersManagedElsewhere = false
        package var driversCreated = 0
        package var driversExisting = 0
        package var routesCreated = 0
        package var routesExisting = 0
        /// Requests answered with an unexpected status or not answered at all.
        package var failures = 0
    }

    /// Why seeding cannot go on (wrong credentials, tracker unreachable).
    package struct SeedError: Error, CustomStringConvertible {
        package var description: String
    }

    /// Creates the scenario's customers (`PUT /api/customers/{id}`), drivers (`POST /api/drivers`) and routes
    /// (`POST /api/routes`) through the REST API with `Authorization: Bearer <token>`.
    ///
    /// A 501 for customers means production mode (customers come from the core database): noted, then skipped.
    /// 409 for drivers and routes means they already exist, which is fine. Other answers are printed with their
    /// problem+json body (the first few of each phase) and counted. Throws `SeedError` only when going on is
    /// pointless: 401/403, or the tracker is unreachable on the first request.
    package static func seed(
        via url: String,
        token: String,
        scenario: DemoScenario,
        log: @escaping @Sendable (String) -> Void = SimulationRunner.printToStandardError
    )
        async throws -> SeedReport
    {
        let api = SeedClient(baseURL: url, token: token, log: log)
        do {
            let report = try await api.seed(scenario)
            await api.shutdown()
            return report
        } catch {
            await api.shutdown()
            throw error
        }
    }
}

/// The HTTP side of seeding.
private struct SeedClient: Sendable {
    let base: String
    let authorization: String
    let client: HTTPClient
    let log: @Sendable (String) -> Void
    static let concurrency = 16
    static let printedFailuresPerPhase = 5

    init(baseURL: String, token: String, log: @escaping @Sendable (String) -> Void) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        authorization = "Bearer \(token)"
        self.log = log
        client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(
                timeout: .init(connect: .seconds(3), read: .seconds(15)),
                connectionPool: .init(
                    idleTimeout: .seconds(30),
                    concurrentHTTP1ConnectionsPerHostSoftLimit: Self.concurrency
                )
            )
        )
    }

    func shutdown() async { try? await client.shutdown() }

    struct Answer: Sendable {
        var status: Int?
        var body: String
        var error: String?
    }

    /// One request; never throws (a transport error is returned in `error`).
    func send(_ method: HTTPMethod, _ path: String, json: [UInt8]) async -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, application/problem+json")
        request.headers.add(name: "Authorization", value: authorization)
        request.body = .bytes(ByteBuffer(bytes: json))
        do {
            let response = try await client.execute(request, timeout: .seconds(20))
            let buffer = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), body: String(buffer: buffer))
        } catch {
            return Answer(status: nil, body: "", error: String(describing: error))
        }
    }

    /// The outcome of one seeded item, as the phase counts it.
    enum Outcome: Sendable { case created, existing, failed }

    func seed(_ scenario: DemoScenario) async throws -> SimulationRunner.SeedReport {
        var report = SimulationRunner.SeedReport()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // stable bodies, easy to diff

        // Customers: the first one alone tells production mode (501) and bad credentials apart.
        let customers = try scenario.customers.map { customer in
            (
                path: "/api/customers/\(Self.pathComponent(customer.id.rawValue))",
                body: [UInt8](try encoder.encode(customer.input))
            )
        }
        if let first = customers.first {
            let answer = await send(.PUT, first.path, json: first.body)
            try stopIfPointless(answer, "PUT \(first.path)")
            if answer.status == 501 {
                report.customersManagedElsewhere = true
                log(
                    "seed: the tracker answered 501 to PUT /api/customers: it runs in production mode, so customers "
                        + "must come from the core database (CDC); continuing with drivers and routes"
                )
            } else {
                var outcomes = [outcome(answer, "PUT \(first.path)", alreadyThere: [], printed: 0)]
                outcomes += await runPhase(
                    Array(customers.dropFirst()),
                    method: .PUT,
                    alreadyThere: [],
                    printedSoFar: outcomes[0] == .failed ? 1 : 0
                )
                report.customersCreated = outcomes.filter { $0 == .created }.count
                report.failures += outcomes.filter { $0 == .failed }.count
                log("seed: \(report.customersCreated) of \(customers.count) customers written")
            }
        }

        let drivers = try scenario.drivers.map { (path: "/api/drivers", body: [UInt8](try encoder.encode($0))) }
        if let first = drivers.first {
            let answer = await send(.POST, first.path, json: first.body)
            try stopIfPointless(answer, "POST /api/drivers")
            var outcomes = [outcome(answer, "POST /api/drivers", alreadyThere: [409], printed: 0)]
            outcomes += await runPhase(
                Array(drivers.dropFirst()),
                method: .POST,
                alreadyThere: [409],
                printedSoFar: outcomes[0] == .failed ? 1 : 0
            )
            report.driversCreated = outcomes.filter { $0 == .created }.count
            report.driversExisting = outcomes.filter { $0 == .existing }.count
            report.failures += outcomes.filter { $0 == .failed }.count
            log("seed: drivers: \(report.driversCreated) created, \(report.driversExisting) already there")
        }

        // Customers reach the read model asynchronously (change events), so a route naming a customer
        // that is not there yet is retried a few times.
        let routes = try scenario.routes.map { (path: "/api/routes", body: [UInt8](try encoder.encode(RouteBody($0)))) }
        let outcomes = await runPhase(
            routes,
            method: .POST,
            alreadyThere: [409],
            printedSoFar: 0,
            retryMissingCustomer: !report.customersManagedElsewhere
        )
        report.routesCreated = outcomes.filter { $0 == .created }.count
        report.routesExisting = outcomes.filter { $0 == .existing }.count
        report.failures += outcomes.filter { $0 == .failed }.count
        log(
            "seed: routes: \(report.routesCreated) created, \(report.routesExisting) already there"
                + (report.failures > 0 ? "; \(report.failures) requests failed in all" : "")
        )
        return report
    }

    /// Sends `items` with bounded concurrency; prints the first few failures of the phase.
    func runPhase(
        _ items: [(path: String, body: [UInt8])],
        method: HTTPMethod,
        alreadyThere: Set<Int>,
        printedSoFar: Int,
        retryMissingCustomer: Bool = false
    ) async -> [Outcome] {
        await withTaskGroup(of: (Int, Answer, String).self) { group in
            var results = [Outcome](repeating: .failed, count: items.count)
            var printed = printedSoFar
            var next = 0
            func add() {
                let index = next
                let item = items[next]
                next += 1
                group.addTask {
                    var answer = await send(method, item.path, json: item.body)
                    var attempt = 0
                    while retryMissingCustomer, attempt < 6, let status = answer.status,
                        [400, 404, 422].contains(status),
                        answer.body.lowercased().contains("customer")
                    {
                        try? await Task.sleep(for: .milliseconds(100 << attempt))
                        attempt += 1
                        answer = await send(method, item.path, json: item.body)
                    }
                    return (index, answer, "\(method.rawValue) \(item.path)")
                }
            }
            while next < items.count, next < Self.concurrency { add() }
            while let (index, answer, what) = await group.next() {
                results[index] = outcome(answer, what, alreadyThere: alreadyThere, printed: printed)
                if results[index] == .failed { printed += 1 }
                if next < items.count { add() }
            }
            let unprinted = printed - Self.printedFailuresPerPhase  // `printed` counts every failure of the phase
            if unprinted > 0 { log("seed: … and \(unprinted) more failures like these") }
            return results
        }
    }

    func outcome(_ answer: Answer, _ what: String, alreadyThere: Set<Int>, printed: Int) -> Outcome {
        if let status = answer.status {
            if (200..<300).contains(status) { return .created }
            if alreadyThere.contains(status) { return .existing }
        }
        if printed < Self.printedFailuresPerPhase {
            if let status = answer.status {
                log(
                    "seed: \(what) → HTTP \(status): \(answer.body.isEmpty ? "(no body)" : String(answer.body.prefix(1_000)))"
                )
            } else {
                log("seed: \(what) failed: \(answer.error ?? "unknown error")")
            }
        }
        return .failed
    }

    /// Throws when the first request of a phase shows that seeding cannot work.
    func stopIfPointless(_ answer: Answer, _ what: String) throws {
        guard let status = answer.status else {
            throw SimulationRunner.SeedError(
                description:
                    "seeding failed: \(what) to \(base) got no answer (\(answer.error ?? "unknown error")); is the tracker running?"
            )
        }
        if status == 401 || status == 403 {
            throw SimulationRunner.SeedError(
                description:
                    "seeding failed: \(what) → HTTP \(status): \(answer.body.isEmpty ? "(no body)" : String(answer.body.prefix(1_000)))\n"
                    + "Check --token (a dispatcher/admin token of tenant 'demo'), or pass --no-seed."
            )
        }
    }

    static func pathComponent(_ id: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/")
        return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id
    }
}

/// `NewRoute` as the REST API reads it: time windows as ISO-8601 strings.
private struct RouteBody: Encodable {
    struct Window: Encodable {
        var start: String
        var end: String
    }

    struct Visit: Encodable {
        var id: String?
        var customerId: String
        var sequenceNumber: Int?
        var visitType: String?
        var timeWindow: Window?
        var serviceDurationSeconds: Int?
    }

    var id: String?
    var driverId: String
    var scheduledDate: String
    var visits: [Visit]

    init(_ route: NewRoute) {
        id = route.id?.rawValue
        driverId = route.driverId.rawValue
        scheduledDate = route.scheduledDate.description
        visits = route.visits.map { v in
            Visit(
                id: v.id?.rawValue,
                customerId: v.customerId.rawValue,
                sequenceNumber: v.sequenceNumber,
                visitType: v.visitType?.rawValue,
                timeWindow: v.timeWindow.map { Window(start: Self.iso($0.start), end: Self.iso($0.end)) },
                serviceDurationSeconds: v.serviceDurationSeconds
            )
        }
    }

    /// `2025-03-14T08:15:30.000Z`.
    static func iso(_ t: Timestamp) -> String {
        var text = TraccarWebhookBody.formatDate(t)
        text.removeLast(6)
        return text + "Z"
    }
}
