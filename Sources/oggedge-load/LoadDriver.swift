import Foundation
import Histogram
import NIOCore
import NIOPosix

/// What one driver (one event loop) does: its share of the arrival rate and of the connections.
struct LoadPlan: Sendable {
    var host: String
    var port: Int
    var hostHeader: String
    var templates: [RequestTemplate]
    var picker: Picker
    /// Arrivals per second for this driver.
    var rate: Double
    var poisson: Bool
    var connections: Int
    var warmupNanos: UInt64
    var durationNanos: UInt64
    var drainNanos: UInt64
    /// Statuses counted as success; nil: 206 for a range request, 200 otherwise.
    var expect: Set<Int>?
    var seed: UInt64
    /// Stop early when this many requests are waiting for a connection (the server cannot keep up).
    var maxQueued: Int
}

/// Latencies in microseconds, from the intended send time.
struct LoadStats: Sendable {
    var ttfb = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var total = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// Intended send time to the write: queueing for a free connection plus the generator's own lag.
    var sendDelay = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// Intended send time to when the generator got round to making the request: its own lag
    /// (timer slack, a busy or descheduled client). Large values mean the client, not the server, is late.
    var lag = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var scheduled = 0
    var completed = 0
    var badStatus = 0
    var transportErrors = 0
    var connectErrors = 0
    var unfinished = 0
    var bodyBytes = 0
    /// Responses by status code (index), 0–599.
    var statuses = [Int](repeating: 0, count: 600)
    var firstError: String?
    var overloaded = false

    mutating func merge(_ other: LoadStats) {
        ttfb.add(other.ttfb)
        total.add(other.total)
        sendDelay.add(other.sendDelay)
        lag.add(other.lag)
        scheduled += other.scheduled
        completed += other.completed
        badStatus += other.badStatus
        transportErrors += other.transportErrors
        connectErrors += other.connectErrors
        unfinished += other.unfinished
        bodyBytes += other.bodyBytes
        for code in statuses.indices { statuses[code] += other.statuses[code] }
        firstError = firstError ?? other.firstError
        overloaded = overloaded || other.overloaded
    }
}

/// Sends requests at the plan's arrival times over its connections and records their latencies.
/// Confined to one event loop: no locks. Requests that find no free connection wait in a FIFO;
/// their latency still counts from their intended send time, so stalls are not hidden
/// (no coordinated omission).
final class LoadDriver {
    private let loop: any EventLoop
    private let plan: LoadPlan
    private var rng: SplitMix64
    private var stats = LoadStats()
    private var queue = CircularBuffer<PendingRequest>(initialCapacity: 1024)
    private var idle: [LoadConnection] = []
    private var connections: [ObjectIdentifier: LoadConnection] = [:]
    private var readyCount = 0
    private var started = false
    private var stopping = false
    private var sequence = 0
    private var startAt: UInt64 = 0
    private var measureFrom: UInt64 = 0
    private var endAt: UInt64 = 0
    private var nextIntended: UInt64 = 0
    private let done: EventLoopPromise<LoadStats>

    init(loop: any EventLoop, plan: LoadPlan) {
        self.loop = loop
        self.plan = plan
        self.rng = SplitMix64(seed: plan.seed)
        self.done = loop.makePromise(of: LoadStats.self)
    }

    /// Connects, runs the plan, and completes with the stats after the drain. Call on `loop`.
    func run() -> EventLoopFuture<LoadStats> {
        for _ in 0..<plan.connections { connect() }
        // Start even if some connections fail; give them a moment.
        loop.assumeIsolated().scheduleTask(in: .seconds(5)) { self.begin() }
        return done.futureResult
    }

    private func connect() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let hostHeader = plan.hostHeader
        ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // A 64 KiB range and its head in one read (NIO's default reads at most 64 KiB, so
            // every such response took two reads): the generator must stay cheaper than the servers.
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 72 * 1024, maximum: 1 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: {
                    try channel.pipeline.syncOperations.addHandler(LoadConnection(driver: bound.value, hostHeader: hostHeader))
                })
            }
            .connect(host: plan.host, port: plan.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success:
                    break
                case .failure(let error):
                    self.stats.connectErrors += 1
                    self.stats.firstError = self.stats.firstError ?? "connect: \(error)"
                    if self.started && !self.stopping {
                        self.loop.assumeIsolated().scheduleTask(in: .milliseconds(100)) { self.connect() }
                    }
                }
            }
    }

    func connectionReady(_ connection: LoadConnection) {
        if stopping {
            connection.close()
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        readyCount += 1
        if !started && readyCount == plan.connections {
            begin()
        } else if started {
            becameIdle(connection)
        }
    }

    private func begin() {
        guard !started else { return }
        started = true
        for connection in connections.values where connection.isOpen && connection.current == nil {
            idle.append(connection)
        }
        startAt = LoadClock.now() + 1_000_000
        measureFrom = startAt + plan.warmupNanos
        endAt = measureFrom + plan.durationNanos
        nextIntended = startAt
        schedule()
    }

    private func schedule() {
        loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(nextIntended)) { self.fire() }
    }

    private func interArrival() -> UInt64 {
        let mean = 1e9 / plan.rate
        if plan.poisson { return UInt64(-log(1 - rng.unit()) * mean) }
        return UInt64(mean)
    }

    /// Every request whose intended time has come joins the queue; free connections take them.
    private func fire() {
        guard !stopping else { return }
        let now = LoadClock.now()
        while nextIntended <= now && nextIntended < endAt {
            let index = plan.picker.pick(sequence: sequence, rng: &rng)
            sequence += 1
            let range = rangeHeader(for: plan.templates[index], rng: &rng)
            queue.append(PendingRequest(intended: nextIntended, template: index, range: range))
            if nextIntended >= measureFrom {
                stats.scheduled += 1
                _ = stats.lag.record(max(1, (now - nextIntended) / 1000))
            }
            nextIntended += interArrival()
        }
        dispatch(now: now)
        if queue.count > plan.maxQueued {
            stats.overloaded = true
            stats.firstError = stats.firstError ?? "more than \(plan.maxQueued) requests waiting for a connection"
            stop()
            return
        }
        if nextIntended < endAt {
            schedule()
        } else {
            loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(endAt + plan.drainNanos)) { self.stop() }
            checkDrained()
        }
    }

    private func dispatch(now: UInt64) {
        while !queue.isEmpty, let connection = idle.popLast() {
            guard connection.isOpen else { continue }
            let request = queue.removeFirst()
            if request.intended >= measureFrom {
                _ = stats.sendDelay.record(max(1, (now &- request.intended) / 1000))
            }
            connection.send(request, target: plan.templates[request.template].target, now: now)
        }
    }

    private func becameIdle(_ connection: LoadConnection) {
        guard started, !stopping else { return }
        idle.append(connection)
        if !queue.isEmpty { dispatch(now: LoadClock.now()) }
    }

    func responseComplete(
        _ connection: LoadConnection, request: PendingRequest, sentAt: UInt64, firstByteAt: UInt64, end: UInt64,
        status: Int, bodyBytes: Int, reusable: Bool
    ) {
        if request.intended >= measureFrom && request.intended < endAt {
            if status >= 0 && status < 600 { stats.statuses[status] += 1 }
            let ok = plan.expect?.contains(status) ?? (status == (request.range == nil ? 200 : 206))
            if ok {
                stats.completed += 1
                stats.bodyBytes += bodyBytes
                _ = stats.ttfb.record(max(1, (firstByteAt &- request.intended) / 1000))
                _ = stats.total.record(max(1, (end &- request.intended) / 1000))
            } else {
                stats.badStatus += 1
                stats.firstError = stats.firstError ?? "status \(status) for \(plan.templates[request.template].target) \(request.range ?? "")"
            }
        }
        if reusable { becameIdle(connection) }
        checkDrained()
    }

    func protocolError(_ connection: LoadConnection, request: PendingRequest?, reason: String) {
        // Requests cut off by stop() itself are already counted as unfinished.
        if !stopping, let request, request.intended >= measureFrom {
            stats.transportErrors += 1
            stats.firstError = stats.firstError ?? reason
        }
        checkDrained()
    }

    func connectionClosed(_ connection: LoadConnection) {
        connections[ObjectIdentifier(connection)] = nil
        idle.removeAll { $0 === connection }
        if started && !stopping { connect() }
        checkDrained()
    }

    /// After the last arrival: done once nothing waits and nothing is in flight.
    private func checkDrained() {
        guard started, !stopping, nextIntended >= endAt, queue.isEmpty else { return }
        if connections.values.allSatisfy({ $0.current == nil }) { stop() }
    }

    private func stop() {
        guard !stopping else { return }
        stopping = true
        let inFlight = connections.values.filter { $0.current.map { $0.intended >= measureFrom } ?? false }.count
        stats.unfinished = queue.filter { $0.intended >= measureFrom }.count + inFlight
        queue.removeAll()
        let open = Array(connections.values)
        connections.removeAll()
        idle.removeAll()
        for connection in open { connection.close() }
        done.succeed(stats)
    }
}
