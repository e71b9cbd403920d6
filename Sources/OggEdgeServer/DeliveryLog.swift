import CPosix
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeRedis
import ServiceLifecycle
import Synchronization

/// The delivery log: one JSON line per response, appended to a file off the hot path.
///
/// Responses only append formatted bytes to an in-memory batch under a lock (never blocking on
/// I/O); a writer thread writes the batch in one `write(2)` at most `flushInterval` after its
/// first record, or as soon as it holds `batchBytes`. An idle log wakes nobody: the writer
/// sleeps until a record arrives (it used to wake every 10 ms through a `Task.sleep`, three
/// thread switches each, busy or idle). The interval stays short under load: the write of a
/// batch pauses an event loop sharing the writer's core (about 160 µs for 50 ms of 27,000
/// responses a second). If the batch grows past `maxPendingBytes` (disk stalled), new
/// records are dropped and counted rather than blocking a response. `SIGHUP` (see
/// ``reopen()``) reopens the file for external log rotation; with `rotateBytes` the writer
/// itself renames a full file to `PATH.1`.
public final class DeliveryLog: Service, Sendable {
    private struct State {
        var pending: [UInt8] = []
        /// The buffer the writer gave back after its last write, emptied with its capacity kept:
        /// the next batch fills memory already mapped instead of fresh pages (a first touch of a
        /// page is a fault, taken on the event loop that appends the line).
        var spare: [UInt8] = []
        var dropped: UInt64 = 0
        var written: UInt64 = 0
        var reopenRequested = false
        /// True once the writer thread should end (after a last write).
        var stopping = false
    }

    private let state = Mutex(State())
    private let fd = Mutex<Int32>(-1)
    /// The log file path; `nil` disables the log.
    public let path: String?
    /// Also ships every record to a Redis stream, when configured.
    let shipper: RedisStreamShipper?
    /// Rotate (rename to `PATH.1`) when the file grows past this many bytes; 0 = never.
    let rotateBytes: Int64
    let maxPendingBytes: Int
    /// Longest a record waits in memory before the writer writes it.
    let flushInterval: Duration
    /// A batch this large is written without waiting for `flushInterval`.
    let batchBytes: Int
    let logger: Logger
    /// Signalled when the batch gets its first record, when it reaches `batchBytes`, and on stop.
    private let wake = DispatchSemaphore(value: 0)
    private let writerDone = DispatchSemaphore(value: 0)
    private let writerStarted = Atomic<Bool>(false)

    /// Creates a delivery log writing to `path` (created with its directory if missing).
    public init(
        path: String?, shipper: RedisStreamShipper? = nil, rotateBytes: Int64 = 0, maxPendingBytes: Int = 8 << 20,
        flushInterval: Duration = .milliseconds(10), batchBytes: Int = 1 << 20, logger: Logger
    ) throws {
        self.path = path
        self.shipper = shipper
        self.rotateBytes = rotateBytes
        self.maxPendingBytes = maxPendingBytes
        self.flushInterval = flushInterval
        self.batchBytes = max(1, min(batchBytes, maxPendingBytes))
        self.logger = logger
        if let path { try fd.withLock { $0 = try Self.openFile(path) } }
    }

    /// Appends a record (formats it on the caller's thread, no I/O).
    public func submit(_ record: DeliveryRecord) {
        var stamps = RFC3339.SecondCache()
        submit(record, stamps: &stamps)
    }

    /// Appends a record, formatted in `scratch` when it fits (the hot path keeps one per event
    /// loop, so a line costs no allocation), else in temporary memory; `stamps` is the caller's
    /// cache of the last second's formatted date.
    func submit(_ record: DeliveryRecord, stamps: inout RFC3339.SecondCache, scratch: UnsafeMutableRawBufferPointer? = nil) {
        shipper?.enqueue(record.fields)
        guard path != nil else { return }
        if let scratch, scratch.count >= record.jsonLineBound {
            let count = record.writeJSONLine(into: scratch, stamps: &stamps)
            append(UnsafeRawBufferPointer(rebasing: scratch[..<count]))
        } else {
            record.withJSONLine(stamps: &stamps) { append($0) }
        }
    }

    /// Appends an already formatted JSON line (ending in `\n`) and ships `fields`.
    public func submit(line: [UInt8], fields: [(String, String)]) {
        shipper?.enqueue(fields)
        guard path != nil else { return }
        line.withUnsafeBytes { append($0) }
    }

    private func append(_ line: UnsafeRawBufferPointer) {
        let wakes = state.withLock { s -> Bool in
            let before = s.pending.count
            if before + line.count > maxPendingBytes {
                s.dropped += 1
                return false
            }
            s.pending.append(contentsOf: line)
            return before == 0 || (before < batchBytes && s.pending.count >= batchBytes)
        }
        if wakes { wake.signal() }
    }

    /// The writer thread's nice value.
    static let writerNiceness: Int32 = 10

    /// Records dropped because the writer could not keep up.
    public var droppedRecords: UInt64 { state.withLock { $0.dropped } }

    /// Asks the writer to reopen the file before its next write (log rotation).
    public func reopen() {
        state.withLock { $0.reopenRequested = true }
        wake.signal()  // reopened within `flushInterval` even while no record comes
    }

    public func run() async throws {
        guard path != nil else {
            // Nothing to write; stay up until shutdown (a service that returns early stops the group).
            try? await gracefulShutdown()
            return
        }
        startWriter()
        try? await gracefulShutdown()
        await stopWriter()
        flush()
    }

    /// Starts the writer thread (once).
    func startWriter() {
        guard !writerStarted.exchange(true, ordering: .relaxed) else { return }
        let thread = Thread { [self] in writerLoop() }
        thread.start()
    }

    /// Ends the writer thread after its last write (returns at once if it never started).
    func stopWriter() async {
        guard writerStarted.load(ordering: .relaxed) else { return }
        state.withLock { $0.stopping = true }
        wake.signal()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [writerDone] in
                writerDone.wait()
                done.resume()
            }
        }
    }

    private func writerLoop() {
        _ = oggedge_thread_name("oggedge-log-w")
        // Below the event loops (a weight of 110 against their 1,024): a writer woken while a
        // loop answers waits for the loop to wait, instead of taking the core between two
        // answers. It still gets about a tenth of a core the loops keep busy, several times
        // what writing the batches takes at full load.
        _ = oggedge_thread_nice(Self.writerNiceness)
        let interval = UInt64(flushInterval.components.seconds) * 1_000_000_000
            + UInt64(flushInterval.components.attoseconds / 1_000_000_000)
        while true {
            // Asleep until the batch has a record (or stopping).
            wake.wait()
            // Then until the interval has passed since, or the batch is full.
            let deadline = DispatchTime.now().uptimeNanoseconds &+ interval
            while true {
                let (full, stopping) = state.withLock { ($0.pending.count >= batchBytes, $0.stopping) }
                if full || stopping || DispatchTime.now().uptimeNanoseconds >= deadline { break }
                _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
            }
            flush()
            if state.withLock({ $0.stopping }) {
                writerDone.signal()
                return
            }
        }
    }

    /// Largest buffer kept for reuse between batches.
    static let spareLimit = 4 << 20

    /// Writes everything pending now.
    public func flush() {
        guard let path else { return }
        assertOffEventLoop()
        // The batch is taken under the file's lock: two flushes (the writer's and a caller's)
        // write their batches in the order they took them.
        var batch: [UInt8] = fd.withLock { fd in
            var (batch, reopen) = state.withLock { s -> ([UInt8], Bool) in
                var b = s.spare
                swap(&b, &s.pending)
                s.spare = []
                let r = s.reopenRequested
                s.reopenRequested = false
                return (b, r)
            }
            writeBatch(&batch, reopen: reopen, to: &fd, path: path)
            return batch
        }
        // Hand the buffer back for the next batch (unless a stall grew it past a few batches).
        guard batch.capacity <= Self.spareLimit else { return }
        batch.removeAll(keepingCapacity: true)
        state.withLock { $0.spare = batch }
    }

    private func writeBatch(_ batch: inout [UInt8], reopen: Bool, to fd: inout Int32, path: String) {
        if reopen || fd < 0 {
            if fd >= 0 { Glibc.close(fd) }
            fd = (try? Self.openFile(path)) ?? -1
        }
        guard fd >= 0, !batch.isEmpty else { return }
        if rotateBytes > 0 {
            var st = stat()
            if fstat(fd, &st) == 0, Int64(st.st_size) + Int64(batch.count) > rotateBytes, rename(path, path + ".1") == 0 {
                Glibc.close(fd)
                fd = (try? Self.openFile(path)) ?? -1
                guard fd >= 0 else { return }
            }
        }
        batch.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    logger.error("delivery log write failed", metadata: ["errno": "\(errno)"])
                    return
                }
                done += n
            }
        }
    }

    static func openFile(_ path: String) throws -> Int32 {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ConfigurationError("cannot open delivery log \(path): errno \(errno)") }
        return fd
    }

    static func makeDirectories(_ dir: String) throws {
        var current = dir.hasPrefix("/") ? "" : "."
        for part in dir.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw ConfigurationError("cannot create directory \(current): errno \(errno)")
            }
        }
    }
}
