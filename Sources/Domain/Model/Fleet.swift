/// A logistics company using the system. Every other entity carries its tenant.
public struct Tenant: Hashable, Sendable, Codable {
    public var id: TenantID
    public var name: String

    public init(id: TenantID, name: String) {
        self.id = id
        self.name = name
    }
}

/// The kind of vehicle a driver uses; decides the overspeed limit.
public enum VehicleType: String, Hashable, Sendable, Codable, CaseIterable {
    case bicycle, motorcycle, car, van, truck
}

/// Whether the driver is in service. Separate from the live activity derived from positions.
public enum DriverStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case active, inactive
}

/// A delivery driver and the Traccar device they carry.
public struct Driver: Hashable, Sendable, Codable {
    public var id: DriverID
    public var tenantId: TenantID
    /// Traccar's `device.uniqueId`; unique across all tenants.
    public var deviceId: DeviceID
    public var name: String
    public var phone: String?
    public var vehiclePlate: String?
    public var vehicleType: VehicleType
    public var status: DriverStatus

    public init(
        id: DriverID,
        tenantId: TenantID,
        deviceId: DeviceID,
        name: String,
        phone: String? = nil,
        vehiclePlate: String? = nil,
        vehicleType: VehicleType = .van,
        status: DriverStatus = .active
    ) {
        self.id = id
        self.tenantId = tenantId
        self.deviceId = deviceId
        self.name = name
        self.phone = phone
        self.vehiclePlate = vehiclePlate
        self.vehicleType = vehicleType
        self.status = status
    }
}

/// Route status follows from its visits (see `Route.recomputed(from:)`).
public enum RouteStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case planned
    case inProgress = "in_progress"
    case completed, cancelled
}

/// A driver's planned day: an ordered list of `PlannedVisit`s.
public struct Route: Hashable, Sendable, Codable {
    public var id: RouteID
    public var tenantId: TenantID
    public var driverId: DriverID
    public var scheduledDate: CalendarDate
    public var status: RouteStatus
    public var totalStops: Int
    public var completedStops: Int

    public init(
        id: RouteID,
        tenantId: TenantID,
        driverId: DriverID,
        scheduledDate: CalendarDate,
        status: RouteStatus = .planned,
        totalStops: Int = 0,
        completedStops: Int = 0
    ) {
        self.id = id
        self.tenantId = tenantId
        self.driverId = driverId
        self.scheduledDate = scheduledDate
        self.status = status
        self.totalStops = totalStops
        self.completedStops = completedStops
    }
}

/// What the driver does at the stop.
public enum VisitType: String, Hashable, Sendable, Codable, CaseIterable {
    case delivery, pickup, service
}

/// The lifecycle of a planned visit. Terminal: completed, failed, skipped, cancelled.
public enum VisitStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case pending, arrived
    case inProgress = "in_progress"
    case completed, failed, skipped, cancelled

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .skipped, .cancelled: true
        case .pending, .arrived, .inProgress: false
        }
    }
}

/// When the customer expects the driver.
public struct TimeWindow: Hashable, Sendable, Codable {
    public var start: Timestamp
    public var end: Timestamp

    public init(start: Timestamp, end: Timestamp) {
        self.start = start
        self.end = end
    }
}

/// What the driver reported when closing a visit.
public struct VisitCompletion: Hashable, Sendable, Codable {
    public var notes: String?
    public var signedBy: String?
    public var failureReason: String?

    public init(notes: String? = nil, signedBy: String? = nil, failureReason: String? = nil) {
        self.notes = notes
        self.signedBy = signedBy
        self.failureReason = failureReason
    }
}

/// One stop of a route at a customer.
public struct PlannedVisit: Hashable, Sendable, Codable {
    public var id: VisitID
    public var tenantId: TenantID
    public var routeId: RouteID
    public var driverId: DriverID
    public var customerId: CustomerID
    public var sequenceNumber: Int
    public var visitType: VisitType
    public var scheduledDate: CalendarDate
    public var timeWindow: TimeWindow?
    /// Expected time spent at the stop, used by ETAs to later stops.
    public var serviceDurationSeconds: Int
    public var status: VisitStatus
    public var arrivedAt: Timestamp?
    public var startedAt: Timestamp?
    public var departedAt: Timestamp?
    public var completedAt: Timestamp?
    /// True when the driver arrived here while an earlier-sequenced visit was still pending.
    public var outOfSequence: Bool
    public var completion: VisitCompletion?

    public init(
        id: VisitID,
        tenantId: TenantID,
        routeId: RouteID,
        driverId: DriverID,
        customerId: CustomerID,
        sequenceNumber: Int,
        visitType: VisitType = .delivery,
        scheduledDate: CalendarDate,
        timeWindow: TimeWindow? = nil,
        serviceDurationSeconds: Int = 300,
        status: VisitStatus = .pending,
        arrivedAt: Timestamp? = nil,
        startedAt: Timestamp? = nil,
        departedAt: Timestamp? = nil,
        completedAt: Timestamp? = nil,
        outOfSequence: Bool = false,
        completion: VisitCompletion? = nil
    ) {
        self.id = id
        self.tenantId = tenantId
        self.routeId = routeId
        self.driverId = driverId
        self.customerId = customerId
        self.sequenceNumber = sequenceNumber
        self.visitType = visitType
        self.scheduledDate = scheduledDate
        self.timeWindow = timeWindow
        self.serviceDurationSeconds = serviceDurationSeconds
        self.status = status
        self.arrivedAt = arrivedAt
        self.startedAt = startedAt
        self.departedAt = departedAt
        self.completedAt = completedAt
        self.outOfSequence = outOfSequence
        self.completion = completion
    }
}

/// Where CDC consumption stands for one source table (spec §5.1 `sync_state`).
public struct SyncState: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        /// No change event consumed yet.
        case idle
        /// Snapshot reads are arriving (initial or incremental snapshot).
        case syncing
        /// Streamed changes are applied.
        case healthy
        /// The last change applied is older than the lag threshold (set by the lag monitor).
        case lagging
        /// The last event of this table could not be decoded or applied (it was dead-lettered).
        case failing
    }

    public var tableName: String
    /// The newest applied source version (Debezium commit/change LSN tuple as text).
    public var lastVersion: String?
    /// When the consumer last took an event of this table (applied, duplicate or stale alike).
    public var lastSyncedAt: Timestamp?
    /// The source's commit time of the newest event taken (`__source_ts_ms`): lag = now − this.
    public var lastSourceAt: Timestamp?
    /// Events that changed the read model (duplicates and stale events are not counted).
    public var eventsApplied: Int64
    /// Events that were dead-lettered.
    public var eventsFailed: Int64
    /// Why the last dead-lettered event failed, and when.
    public var lastError: String?
    public var lastErrorAt: Timestamp?
    public var status: Status

    public init(
        tableName: String,
        lastVersion: String? = nil,
        lastSyncedAt: Timestamp? = nil,
        lastSourceAt: Timestamp? = nil,
        eventsApplied: Int64 = 0,
        eventsFailed: Int64 = 0,
        lastError: String? = nil,
        lastErrorAt: Timestamp? = nil,
        status: Status = .idle
    ) {
        self.tableName = tableName
        self.lastVersion = lastVersion
        self.lastSyncedAt = lastSyncedAt
        self.lastSourceAt = lastSourceAt
        self.eventsApplied = eventsApplied
        self.eventsFailed = eventsFailed
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.status = status
    }

    /// This state with `progress` merged in, the rule every store applies atomically: counters add up,
    /// the version and the source time keep the newest (text order; nil lowest), and the status becomes
    /// `failing` after a failure, else `syncing` while snapshot reads arrive, else `healthy`.
    public func merging(_ progress: SyncProgress) -> SyncState {
        var next = self
        next.eventsApplied += Int64(progress.applied)
        next.lastVersion = Self.newest(lastVersion, progress.lastVersion)
        next.lastSourceAt = Self.newest(lastSourceAt, progress.sourceTimestamp)
        if let failure = progress.failure {
            next.eventsFailed += 1
            next.lastError = failure
            next.lastErrorAt = progress.at
            next.status = .failing
        } else {
            next.lastSyncedAt = progress.at
            next.status = progress.snapshot ? .syncing : .healthy
        }
        return next
    }

    static func newest<T: Comparable>(_ a: T?, _ b: T?) -> T? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }
}

/// What the change-data-capture consumer did with one source table's events in one batch.
public struct SyncProgress: Hashable, Sendable {
    public var tableName: String
    /// Events that changed the read model.
    public var applied: Int
    /// The newest version among the events taken.
    public var lastVersion: String?
    /// The newest source commit time among the events taken.
    public var sourceTimestamp: Timestamp?
    /// Whether the newest event taken was a snapshot read.
    public var snapshot: Bool
    /// Why an event was dead-lettered (a failure record: nothing was applied).
    public var failure: String?
    /// When the consumer took the events.
    public var at: Timestamp

    public init(
        tableName: String,
        applied: Int = 0,
        lastVersion: String? = nil,
        sourceTimestamp: Timestamp? = nil,
        snapshot: Bool = false,
        failure: String? = nil,
        at: Timestamp
    ) {
        self.tableName = tableName
        self.applied = applied
        self.lastVersion = lastVersion
        self.sourceTimestamp = sourceTimestamp
        self.snapshot = snapshot
        self.failure = failure
        self.at = at
    }
}
