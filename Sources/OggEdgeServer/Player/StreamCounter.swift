#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import OggEdgeRedis
import ServiceLifecycle
import Synchronization

/// Counts a stream once per play: `HINCRBY oggedge:streams {trackId} 1`, guarded by
/// `SET oggedge:stream-counted:{playId} {trackId} NX EX 604800`.
///
/// The guard and the increment run as one Lua script, so they cannot be split by a crash or a lost
/// connection: running the script again for the same play never counts twice. That makes every
/// path at-least-once safe: a retried event, two replicas sharing one Redis, and a replay of the
/// local spool. While Redis is unreachable, plays to count are appended to a spool file and sent
/// by ``run()`` once it answers again (kept across restarts of the process).
final class StreamCounter: Service, Sendable {
    /// What happened to one counting request.
    enum Outcome: Equatable { case counted, alreadyCounted, spooled }

    static let hashKey = "oggedge:streams"
    static let guardPrefix = "oggedge:stream-counted:"
    /// How long a play's guard lives (a retry after this would count again).
    static let guardTTLSeconds = 7 * 86_400
    static let script = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
          redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
          return 1
        end
        return 0
        """

    let redis: RedisPool
    /// `pending.log` collects plays to count; `draining.log` is the batch being replayed.
    let spoolDirectory: String
    let retryInterval: Duration
    let logger: Logger
    private let fileLock = Mutex(())

    init(redis: RedisPool, spoolDirectory: String, retryInterval: Duration = .milliseconds(250), logger: Logger) throws {
        self.redis = redis
        self.spoolDirectory = spoolDirectory
        self.retryInterval = retryInterval
        self.logger = logger
        try DeliveryLog.makeDirectories(spoolDirectory)
    }

    var pendingPath: String { spoolDirectory + "/pending.log" }
    var drainingPath: String { spoolDirectory + "/draining.log" }

    /// Counts `playId` as a stream of `trackId`, or spools it when Redis does not answer.
    func count(playId: String, trackId: String) async -> Outcome {
        if !hasSpool, let counted = try? await redis.command(Self.evalArguments(playId: playId, trackId: trackId)) {
            return counted == .integer(1) ? .counted : .alreadyCounted
        }
        // Redis down, or older plays still waiting: keep the order, append and let run() send it.
        append(playId: playId, trackId: trackId)
        return .spooled
    }

    static func evalArguments(playId: String, trackId: String) -> [String] {
        ["EVAL", script, "2", guardPrefix + playId, hashKey, trackId, String(guardTTLSeconds)]
    }

    /// Plays waiting in the spool.
    var hasSpool: Bool {
        fileLock.withLock { _ in FileManager.default.fileExists(atPath: pendingPath) || FileManager.default.fileExists(atPath: drainingPath) }
    }

    private func append(playId: String, trackId: String) {
        let line = Array("\(playId) \(trackId)\n".utf8)
        fileLock.withLock { _ in
            let fd = open(pendingPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                logger.error("stream count spool: cannot open", metadata: ["path": "\(pendingPath)", "errno": "\(errno)"])
                return
            }
            defer { close(fd) }
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    /// Sends spooled plays until shutdown (and once more after it).
    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await drain()
                try? await Task.sleep(for: retryInterval)
            }
        } onGracefulShutdown: {}
        await drain()
    }

    /// Replays the spool: `pending.log` becomes `draining.log`, which is removed once every play in
    /// it went through the script (a failure leaves it for the next round; replays are harmless).
    func drain() async {
        let batchPath: String? = fileLock.withLock { _ in
            let fm = FileManager.default
            if fm.fileExists(atPath: drainingPath) { return drainingPath }
            guard fm.fileExists(atPath: pendingPath) else { return nil }
            return rename(pendingPath, drainingPath) == 0 ? drainingPath : nil
        }
        guard let batchPath, let data = FileManager.default.contents(atPath: batchPath) else { return }
        let commands: [[String]] = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { return nil }
            return Self.evalArguments(playId: String(parts[0]), trackId: String(parts[1]))
        }
        var sent = 0
        while sent < commands.count {
            let batch = Array(commands[sent..<min(sent + 256, commands.count)])
            guard (try? await redis.pipeline(batch)) != nil else { return }
            sent += batch.count
        }
        fileLock.withLock { _ in _ = unlink(batchPath) }
        if !commands.isEmpty { logger.info("stream counts sent from the spool", metadata: ["plays": "\(commands.count)"]) }
    }
}
