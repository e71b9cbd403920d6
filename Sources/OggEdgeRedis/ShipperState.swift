import Foundation

/// Mutable state shared by `enqueue`, the flusher thread and the sender thread.
///
/// Sendable invariant: every stored property except `condition` is read and written only inside
/// `locked`, i.e. while `condition`'s lock is held. `@unchecked` because the compiler cannot check
/// lock-based protection. No I/O is ever done while holding the lock.
final class ShipperState: @unchecked Sendable {
    enum Phase { case idle, running, stopping, stopped }

    let condition = NSCondition()
    var phase = Phase.idle
    /// Encoded records not yet written to the spool file.
    var pending: [UInt8] = []
    var pendingRecords = 0
    var ids: StreamIDGenerator
    /// End of the last record completely written (and fsynced) to the spool.
    var written: SpoolPosition
    var stats = RedisShipperStats()
    var flusherDone = false
    var threadsRunning = 0
    var exitContinuation: CheckedContinuation<Void, Never>?

    init(ids: StreamIDGenerator, written: SpoolPosition, unsentBytes: Int64) {
        self.ids = ids
        self.written = written
        stats.spooledBytes = unsentBytes
    }

    func locked<R>(_ body: (ShipperState) throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body(self)
    }

    /// Waits (lock held by the caller, inside `locked`) until `deadline` or a broadcast.
    func wait(until deadline: ContinuousClock.Instant) {
        let remaining = ContinuousClock.now.duration(to: deadline).seconds
        guard remaining > 0 else { return }
        _ = condition.wait(until: Date(timeIntervalSinceNow: remaining))
    }
}

/// The spool writer behind its own lock.
///
/// Sendable invariant: `writer` is only touched inside `withWriter`, under `lock`.
final class LockedSpoolWriter: @unchecked Sendable {
    private let lock = NSLock()
    private let writer: SpoolWriter

    init(_ writer: SpoolWriter) {
        self.writer = writer
    }

    func withWriter<R>(_ body: (SpoolWriter) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(writer)
    }
}
