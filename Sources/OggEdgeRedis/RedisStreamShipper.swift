import Foundation
import Logging
import ServiceLifecycle

/// Counters of a ``RedisStreamShipper`` (a snapshot).
public struct RedisShipperStats: Sendable, Equatable {
    /// Records accepted into the spool (assigned a stream id).
    public var enqueued = 0
    /// Records added to the stream by this process (including `idConflicts` re-adds).
    public var sent = 0
    /// Records Redis already had (resent after an outage or crash and refused as duplicates).
    public var duplicatesSkipped = 0
    /// Records whose id another writer had overtaken; re-added with a server-assigned id (`*`).
    public var idConflicts = 0
    /// Bytes of records not yet acknowledged by Redis (on disk and in memory).
    public var spooledBytes: Int64 = 0
    /// Records refused because the spool was full (or could not be written to disk).
    public var droppedWhenFull = 0
    /// Records refused because they had no fields or exceeded 1 MiB.
    public var droppedInvalid = 0
    /// Successful connections after the first one.
    public var reconnects = 0
    /// Whether the shipper currently holds a working connection.
    public var connected = false
    /// The last connection, command or spool error, if any.
    public var lastError: String?
}

/// Tuning knobs of a ``RedisStreamShipper``; the defaults suit an edge node.
public struct RedisShipperOptions: Sendable {
    /// Records per pipelined XADD batch.
    public var batchSize = 256
    /// Bounds each connection attempt.
    public var connectTimeout: Duration = .milliseconds(500)
    /// Bounds each read/write on an established connection.
    public var commandTimeout: Duration = .seconds(2)
    /// First reconnect delay; doubled after each failure up to `maxBackoff`.
    public var initialBackoff: Duration = .milliseconds(50)
    /// Longest delay between reconnect attempts.
    public var maxBackoff: Duration = .seconds(2)
    /// How long `run()` keeps trying to send the rest of the spool after shutdown was requested.
    public var shutdownDrainTimeout: Duration = .seconds(3)
    /// Pause between spool flushes, so one fsync covers many records under load.
    public var flushInterval: Duration = .milliseconds(10)

    /// The defaults.
    public init() {}
}

/// Ships delivery-log records to a Redis stream exactly once, never blocking the caller.
///
/// - `enqueue` assigns each record a strictly increasing stream id (`<ms>-<seq>`, wall clock,
///   never going backwards, seeded at start from the spool and the commit file) and appends it to an
///   in-memory buffer under a short lock. No disk or network I/O happens on the caller's thread
///   (except after `run()` has returned, see `enqueue`).
/// - A flusher thread appends the buffer to append-only segment files in `spoolDirectory` and
///   fsyncs every `flushInterval` at most, so a process crash loses at most the last ~10 ms of records
///   and an OS crash nothing that was fsynced.
/// - A sender thread reads the spool from the committed offset, sends batches as pipelined
///   `XADD key <id> field value ...` and then replaces the commit file. A resend after an outage or a
///   crash between XADD and commit is refused by Redis ("equal or smaller than the target stream top
///   item"); the sender then checks with `XRANGE key id id` that the entry is there and counts it as
///   a duplicate. If it is not there, another writer overtook the id: the record is re-added with id
///   `*` and counted in `idConflicts` (one stream key per writer avoids this).
/// - When Redis is unreachable, the sender retries with exponential backoff (50 ms doubling to 2 s);
///   hiredis calls are bounded by connect/command timeouts and run only on the sender thread.
/// - Spool bound: when the unacknowledged bytes would exceed `maxSpoolBytes`, the *newest* record is
///   dropped and counted in `droppedWhenFull` (older records keep their place; the delivery log file
///   still has every record). The directory can in addition hold up to one segment
///   (`maxSpoolBytes / 8`, 64 KiB...16 MiB) of already acknowledged bytes.
public final class RedisStreamShipper: Service, Sendable {
    /// Where records go.
    public let endpoint: RedisEndpoint
    /// The stream key (`oggedge:delivery` by default).
    public let streamKey: String
    /// The spool directory (created if needed).
    public let spoolDirectory: String
    /// Highest number of unacknowledged bytes kept.
    public let maxSpoolBytes: Int64
    let options: RedisShipperOptions
    let logger: Logger
    let recovery: SpoolRecovery
    let state: ShipperState
    let writer: LockedSpoolWriter
    let directoryLock: SpoolDirectoryLock

    /// Opens (or creates) the spool, cuts a record torn by a crash off its end, and seeds the id
    /// generator. Throws ``RedisConfigError`` if the directory is unusable, already used by another
    /// shipper (an exclusive `flock` on `DIR/lock`, held until this object is released), or the
    /// stream key is empty.
    public init(endpoint: RedisEndpoint, streamKey: String = "oggedge:delivery", spoolDirectory: String,
                maxSpoolBytes: Int64 = 256 << 20, options: RedisShipperOptions = RedisShipperOptions(),
                logger: Logger) throws {
        guard !streamKey.isEmpty else { throw RedisConfigError("Redis stream key is empty") }
        guard maxSpoolBytes > 0 else { throw RedisConfigError("maxSpoolBytes must be positive") }
        self.endpoint = endpoint
        self.streamKey = streamKey
        self.spoolDirectory = spoolDirectory
        self.maxSpoolBytes = maxSpoolBytes
        self.options = options
        var logger = logger
        logger[metadataKey: "redis"] = "\(endpoint)"
        logger[metadataKey: "stream"] = "\(streamKey)"
        self.logger = logger
        directoryLock = try SpoolDirectoryLock(spoolDirectory)
        let recovery = try SpoolFiles.recover(spoolDirectory)
        self.recovery = recovery
        if recovery.truncatedBytes > 0 {
            logger.warning("cut \(recovery.truncatedBytes) bytes of a torn record off the delivery spool")
        }
        let segmentMax = min(max(maxSpoolBytes / 8, 64 << 10), 16 << 20)
        writer = LockedSpoolWriter(SpoolWriter(directory: spoolDirectory, segment: recovery.writerSegment,
                                               segmentMaxBytes: segmentMax))
        state = ShipperState(ids: StreamIDGenerator(after: recovery.lastID),
                             written: SpoolPosition(segment: recovery.writerSegment, offset: 0),
                             unsentBytes: recovery.unsentBytes)
    }

    /// Appends a record (ordered field/value pairs, values already strings) to the spool. Never
    /// blocks on the network or the disk: it takes a short lock and copies the record into memory.
    ///
    /// Callers map a JSON `null` to an empty string `""` (the contract keeps every field present).
    /// A record without fields or over 1 MiB is refused (`droppedInvalid`); a record that would take
    /// the spool over `maxSpoolBytes` is refused (`droppedWhenFull`). After `run()` has returned, the
    /// record is written to the spool file synchronously so that it is shipped at the next start.
    /// Safe to call from any thread.
    public func enqueue(_ fields: [(String, String)]) {
        let nowMS = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let shutDown = state.locked { s -> Bool in
            let id = s.ids.next(nowMilliseconds: nowMS)
            let size = SpoolCodec.encodedSize(id: id, fields: fields)
            if fields.isEmpty || size > SpoolCodec.maxPayloadBytes {
                s.stats.droppedInvalid += 1
                return false
            }
            if s.stats.spooledBytes + Int64(size) > maxSpoolBytes {
                s.stats.droppedWhenFull += 1
                return false
            }
            let wake = s.pending.isEmpty
            SpoolCodec.append(id: id, fields: fields, to: &s.pending)
            s.pendingRecords += 1
            s.stats.spooledBytes += Int64(size)
            s.stats.enqueued += 1
            if wake { s.condition.broadcast() }
            return s.phase == .stopped
        }
        if shutDown { flushPending() }
    }

    /// A snapshot of the counters.
    public var stats: RedisShipperStats {
        state.locked { $0.stats }
    }

    /// Runs the flusher and sender threads until graceful shutdown (or cancellation), then flushes
    /// the memory buffer, tries for up to `shutdownDrainTimeout` to send what is left, and returns.
    /// What could not be sent stays in the spool for the next start. Call it once.
    public func run() async throws {
        let first = state.locked { s -> Bool in
            guard s.phase == .idle else { return false }
            s.phase = .running
            s.threadsRunning = 2
            return true
        }
        guard first else { throw RedisConfigError("RedisStreamShipper.run() can only be called once") }
        logger.info("delivery log shipping to Redis", metadata: [
            "spool": "\(spoolDirectory)", "unsent_bytes": "\(recovery.unsentBytes)",
        ])
        let flusher = Thread { [self] in flusherMain(); threadExited() }
        flusher.name = "oggedge-spool-flush"
        flusher.start()
        let sender = Thread { [self] in senderMain(); threadExited() }
        sender.name = "oggedge-redis-ship"
        sender.start()

        try? await gracefulShutdown()

        state.locked { s in
            s.phase = .stopping
            s.condition.broadcast()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.locked { s -> Bool in
                if s.threadsRunning == 0 { return true }
                s.exitContinuation = continuation
                return false
            }
            if done { continuation.resume() }
        }
        state.locked { $0.phase = .stopped }
        flushPending()
        let final = stats
        logger.info("delivery log shipping stopped", metadata: [
            "sent": "\(final.sent)", "unsent_bytes": "\(final.spooledBytes)",
            "dropped_when_full": "\(final.droppedWhenFull)",
        ])
    }

    private func threadExited() {
        let continuation = state.locked { s -> CheckedContinuation<Void, Never>? in
            s.threadsRunning -= 1
            guard s.threadsRunning == 0 else { return nil }
            defer { s.exitContinuation = nil }
            return s.exitContinuation
        }
        continuation?.resume()
    }

    private func flusherMain() {
        while true {
            let stopping = state.locked { s -> Bool in
                while s.pending.isEmpty && s.phase == .running {
                    _ = s.condition.wait(until: Date(timeIntervalSinceNow: 1))
                }
                return s.phase != .running
            }
            flushPending()
            if stopping {
                state.locked { s in
                    s.flusherDone = true
                    s.condition.broadcast()
                }
                return
            }
            Thread.sleep(forTimeInterval: options.flushInterval.seconds)
        }
    }

    /// Moves the memory buffer to the current segment (serialised by the writer's lock, which is
    /// taken before the state lock so that buffers reach the file in id order).
    func flushPending() {
        writer.withWriter { spool in
            let (bytes, count) = state.locked { s -> ([UInt8], Int) in
                defer { s.pending = []; s.pendingRecords = 0 }
                return (s.pending, s.pendingRecords)
            }
            guard !bytes.isEmpty else { return }
            var failure: String?
            do { try spool.append(bytes) } catch { failure = "\(error)" }
            if let failure {
                logger.error("cannot write the delivery spool, \(count) records dropped: \(failure)")
            }
            state.locked { s in
                if let failure {
                    s.stats.droppedWhenFull += count
                    s.stats.spooledBytes -= Int64(bytes.count)
                    s.stats.lastError = failure
                }
                s.written = spool.position
                s.condition.broadcast()
            }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
