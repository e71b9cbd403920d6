import Foundation
public import Logging
public import OggEdgeRedis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
}

/// A real `redis-server` on a free loopback port, with its own data directory.
/// Used by one test at a time (the suite is serialised); `@unchecked` because `process` is mutable.
public final class RedisTestServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private var process: Process?

    /// Picks a free port by binding port 0 on 127.0.0.1.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                precondition(bind(fd, raw, length) == 0)
                precondition(getsockname(fd, raw, &length) == 0)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public init(port: Int = RedisTestServer.freePort(), start: Bool = true) throws {
        self.port = port
        directory = makeTemporaryDirectory("redis")
        if start { try self.start() }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var endpoint: RedisEndpoint {
        get throws { try RedisEndpoint(url: "redis://127.0.0.1:\(port)") }
    }

    /// Starts redis-server (loading `dump.rdb` from `directory` if a previous `stop(save: true)` left one)
    /// and waits until it answers PING.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let connection = try? RedisConnection(endpoint: endpoint),
               (try? connection.command(["PING"])) == .status("PONG") {
                return
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure(description: "redis-server on port \(port) did not answer PING")
    }

    /// Stops the server; with `save`, its data is written to `dump.rdb` first and comes back on `start()`.
    /// Uses the SHUTDOWN command: a child spawned by Foundation's Process on Linux inherits a signal
    /// mask that blocks SIGTERM, so `terminate()` would not stop it. SIGKILL is the fallback.
    public func stop(save: Bool = false) {
        guard let process, process.isRunning else { return }
        if let connection = try? RedisConnection(endpoint: endpoint) {
            _ = try? connection.command(["SHUTDOWN", save ? "SAVE" : "NOSAVE"])
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
    }

    public func connection(database: Int = 0) throws -> RedisConnection {
        try RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: port, database: database))
    }
}

/// One stream entry as read back with XRANGE.
public struct StreamEntry: Equatable {
    public let id: String
    public let fields: [String]

    public func value(_ name: String) -> String? {
        stride(from: 0, to: fields.count - 1, by: 2).first { fields[$0] == name }.map { fields[$0 + 1] }
    }
}

extension RedisConnection {
    public func xlen(_ key: String) throws -> Int64 {
        guard case .integer(let count) = try command(["XLEN", key]) else { throw TestFailure(description: "XLEN reply") }
        return count
    }

    public func xrange(_ key: String) throws -> [StreamEntry] {
        guard case .array(let entries) = try command(["XRANGE", key, "-", "+"]) else {
            throw TestFailure(description: "XRANGE reply")
        }
        return try entries.map { entry in
            guard case .array(let parts) = entry, parts.count == 2, case .string(let id) = parts[0],
                  case .array(let values) = parts[1] else { throw TestFailure(description: "XRANGE entry \(entry)") }
            return StreamEntry(id: id, fields: values.map { value -> String in
                if case .string(let text) = value { return text }
                return "?"
            })
        }
    }
}

public func makeTemporaryDirectory(_ prefix: String) -> String {
    let path = NSTemporaryDirectory() + "oggedge-\(prefix)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
public func eventually(timeout: Duration = .seconds(20), _ condition: () throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? condition()) == true
}

/// Total bytes of spool segment files in `directory`.
public func segmentBytes(_ directory: String) -> Int64 {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { $0.hasSuffix(".seg") }.reduce(0) { total, name in
        let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)??.int64Value
        return total + (size ?? 0)
    }
}

public let testLogger: Logger = {
    var logger = Logger(label: "oggedge.redis.test")
    logger.logLevel = .error
    return logger
}()

/// Options that make outage tests fast.
public func fastOptions() -> RedisShipperOptions {
    var options = RedisShipperOptions()
    options.maxBackoff = .milliseconds(200)
    options.shutdownDrainTimeout = .milliseconds(500)
    options.batchSize = 16
    return options
}

/// A record whose field `n` identifies it.
public func record(_ n: Int) -> [(String, String)] {
    [("ts", "2025-01-01T00:00:00.000Z"), ("n", String(n)), ("path", "/tracks/a b_160kbps.ogg?exp=1&sig=é"),
     ("uid", ""), ("bytes_sent", String(n * 1000))]
}
