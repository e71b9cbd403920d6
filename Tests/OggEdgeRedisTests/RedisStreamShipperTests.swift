import OggEdgeTesting
import Foundation
import Logging
import OggEdgeRedis
import ServiceLifecycle
import Testing

/// Each test starts its own redis-server; serialised to keep the load low on small machines.
@Suite(.serialized)
struct RedisStreamShipperTests {
    let key = "oggedge:delivery"

    private func start(_ shipper: RedisStreamShipper) -> Task<Void, any Error> {
        Task { try await shipper.run() }
    }

    private func stop(_ task: Task<Void, any Error>) async throws {
        task.cancel()
        try await task.value
    }

    /// The `n` field of every entry, in stream order.
    private func numbers(_ entries: [StreamEntry]) -> [Int] {
        entries.map { Int($0.value("n") ?? "") ?? -1 }
    }

    @Test func recordsArriveInOrderWithTheirFields() async throws {
        let server = try RedisTestServer()
        let spool = makeTemporaryDirectory("spool")
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(server.port)/3")
        let shipper = try RedisStreamShipper(endpoint: endpoint, spoolDirectory: spool, logger: testLogger)
        let group = ServiceGroup(configuration: .init(services: [shipper], logger: testLogger))
        let task = Task { try await group.run() }
        let db3 = try server.connection(database: 3)

        for n in 0..<40 { shipper.enqueue(record(n)) }
        // A generous bound: on a loaded machine the shipper's task can wait long for a thread.
        #expect(await eventually(timeout: .seconds(90)) { try db3.xlen(key) == 40 })
        // Enqueued right before shutdown: the final drain must still deliver them.
        for n in 40..<50 { shipper.enqueue(record(n)) }
        await group.triggerGracefulShutdown()
        try await task.value

        let entries = try db3.xrange(key)
        #expect(numbers(entries) == Array(0..<50))
        #expect(entries.map(\.fields) == (0..<50).map { n in record(n).flatMap { [$0.0, $0.1] } })
        #expect(Set(entries.map(\.id)).count == 50)
        #expect(try server.connection().xlen(key) == 0, "SELECT 3 must be honoured")
        let stats = shipper.stats
        #expect(stats.enqueued == 50)
        #expect(stats.sent == 50)
        #expect(stats.spooledBytes == 0)
        #expect(stats.duplicatesSkipped == 0)
    }

    @Test func outageSpoolsAndDeliversEachRecordOnce() async throws {
        let server = try RedisTestServer()
        let spool = makeTemporaryDirectory("spool")
        let shipper = try RedisStreamShipper(endpoint: server.endpoint, spoolDirectory: spool,
                                             options: fastOptions(), logger: testLogger)
        let task = start(shipper)
        for n in 0..<10 { shipper.enqueue(record(n)) }
        #expect(await eventually { try server.connection().xlen(key) == 10 })

        server.stop(save: true) // keeps the 10 entries (and the stream's last id) for the restart
        for n in 10..<60 { shipper.enqueue(record(n)) }
        #expect(await eventually { !shipper.stats.connected && shipper.stats.lastError != nil })
        #expect(shipper.stats.spooledBytes > 0)
        #expect(shipper.stats.sent == 10)

        try server.start()
        #expect(await eventually { try server.connection().xlen(key) == 60 && shipper.stats.spooledBytes == 0 })
        try await stop(task)

        let entries = try server.connection().xrange(key)
        #expect(entries.count == 60)
        #expect(numbers(entries) == Array(0..<60))
        #expect(Set(entries.map(\.id)).count == 60)
        let stats = shipper.stats
        #expect(stats.reconnects >= 1)
        #expect(stats.sent + stats.duplicatesSkipped == 60)
        #expect(stats.idConflicts == 0)
    }

    @Test func crashBetweenXaddAndCommitDoesNotDuplicate() async throws {
        let server = try RedisTestServer()
        let spool = makeTemporaryDirectory("spool")
        let commitFile = spool + "/committed"

        let staleCommit: Data
        do { // the first shipper is released at the end of this block, which frees the spool's lock
            let first = try RedisStreamShipper(endpoint: server.endpoint, spoolDirectory: spool,
                                               options: fastOptions(), logger: testLogger)
            #expect(throws: RedisConfigError.self, "a second shipper on the same spool is refused") {
                try RedisStreamShipper(endpoint: server.endpoint, spoolDirectory: spool, logger: testLogger)
            }
            let firstTask = start(first)
            for n in 0..<4 { first.enqueue(record(n)) }
            #expect(await eventually { first.stats.sent == 4 })
            staleCommit = try Data(contentsOf: URL(fileURLWithPath: commitFile))
            for n in 4..<10 { first.enqueue(record(n)) }
            #expect(await eventually { first.stats.sent == 10 })
            try await stop(firstTask)
        }
        #expect(try server.connection().xlen(key) == 10)

        // As if the process died after XADD of records 4..<10 but before their commit.
        try staleCommit.write(to: URL(fileURLWithPath: commitFile))

        // The first shipper's lock goes with its last reference (its run task may still hold one
        // for a moment after it stopped): wait for it rather than race it.
        var opened: RedisStreamShipper?
        #expect(await eventually {
            opened = try RedisStreamShipper(endpoint: server.endpoint, spoolDirectory: spool,
                                            options: fastOptions(), logger: testLogger)
            return true
        })
        let second = try #require(opened)
        #expect(second.stats.spooledBytes > 0, "the six records after the stale commit are unsent again")
        let secondTask = start(second)
        for n in 10..<15 { second.enqueue(record(n)) }
        #expect(await eventually { second.stats.spooledBytes == 0 && second.stats.sent == 5 })
        try await stop(secondTask)

        let entries = try server.connection().xrange(key)
        #expect(entries.count == 15)
        #expect(numbers(entries) == Array(0..<15))
        #expect(Set(entries.map(\.id)).count == 15)
        #expect(second.stats.duplicatesSkipped == 6)
        #expect(second.stats.idConflicts == 0)
    }

    @Test func fullSpoolDropsNewestRecords() async throws {
        let port = RedisTestServer.freePort() // nothing listens here yet
        let spool = makeTemporaryDirectory("spool")
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(port)")
        let shipper = try RedisStreamShipper(endpoint: endpoint, spoolDirectory: spool, maxSpoolBytes: 2048,
                                             options: fastOptions(), logger: testLogger)
        let task = start(shipper)
        for n in 0..<100 { shipper.enqueue(record(n)) }

        let stats = shipper.stats
        #expect(stats.droppedWhenFull > 0)
        #expect(stats.enqueued > 0)
        #expect(stats.enqueued + stats.droppedWhenFull == 100)
        #expect(stats.spooledBytes <= 2048)
        #expect(await eventually { shipper.stats.lastError != nil && segmentBytes(spool) == shipper.stats.spooledBytes })
        #expect(segmentBytes(spool) <= 2048)

        // Redis comes up: exactly the records that were kept (the oldest ones) arrive.
        let server = try RedisTestServer(port: port)
        #expect(await eventually { try server.connection().xlen(key) == Int64(stats.enqueued) })
        try await stop(task)
        #expect(numbers(try server.connection().xrange(key)) == Array(0..<stats.enqueued))
    }

    @Test func spoolSurvivesRestartAndTornTail() async throws {
        let port = RedisTestServer.freePort()
        let spool = makeTemporaryDirectory("spool")
        let endpoint = try RedisEndpoint(url: "redis://127.0.0.1:\(port)")
        do {
            let first = try RedisStreamShipper(endpoint: endpoint, spoolDirectory: spool, options: fastOptions(),
                                               logger: testLogger)
            let firstTask = start(first)
            for n in 0..<20 { first.enqueue(record(n)) }
            try await stop(firstTask) // Redis is down: the final drain gives up, records stay spooled
            #expect(first.stats.sent == 0)
            #expect(first.stats.spooledBytes > 0)
            #expect(segmentBytes(spool) == first.stats.spooledBytes)
        }

        // A crash in the middle of an append: a header promising 100 bytes, followed by 10.
        let segments = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".seg") }.sorted()
        let last = try #require(segments.last)
        let handle = try #require(FileHandle(forWritingAtPath: spool + "/" + last))
        handle.seekToEndOfFile()
        handle.write(Data([100, 0, 0, 0, 1, 2, 3, 4] + Array(repeating: 7, count: 10)))
        handle.closeFile()

        let server = try RedisTestServer(port: port)
        let second = try RedisStreamShipper(endpoint: endpoint, spoolDirectory: spool, options: fastOptions(),
                                            logger: testLogger)
        let secondTask = start(second)
        second.enqueue(record(20))
        #expect(await eventually { try server.connection().xlen(key) == 21 && second.stats.spooledBytes == 0 })
        try await stop(secondTask)
        let entries = try server.connection().xrange(key)
        #expect(numbers(entries) == Array(0...20))
        #expect(second.stats.sent == 21)
        #expect(second.stats.duplicatesSkipped == 0)
    }

    @Test func anotherWriterOvertakingOurIdsDoesNotLoseRecords() async throws {
        let server = try RedisTestServer()
        _ = try server.connection().command(["XADD", key, "99999999999999-0", "other", "writer"])
        let shipper = try RedisStreamShipper(endpoint: server.endpoint, spoolDirectory: makeTemporaryDirectory("spool"),
                                             options: fastOptions(), logger: testLogger)
        let task = start(shipper)
        for n in 0..<3 { shipper.enqueue(record(n)) }
        #expect(await eventually { try server.connection().xlen(key) == 4 && shipper.stats.spooledBytes == 0 })
        try await stop(task)
        #expect(shipper.stats.idConflicts == 3)
        #expect(shipper.stats.duplicatesSkipped == 0)
        #expect(numbers(try server.connection().xrange(key)) == [-1, 0, 1, 2])
    }

    @Test func invalidRecordsAreRefused() async throws {
        let shipper = try RedisStreamShipper(endpoint: RedisEndpoint(url: "redis://127.0.0.1:1"),
                                             spoolDirectory: makeTemporaryDirectory("spool"), logger: testLogger)
        shipper.enqueue([])
        shipper.enqueue([("big", String(repeating: "x", count: 2 << 20))])
        #expect(shipper.stats.droppedInvalid == 2)
        #expect(shipper.stats.enqueued == 0)
        #expect(shipper.stats.spooledBytes == 0)
    }
}
