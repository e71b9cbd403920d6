#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCore
import Synchronization

/// One rendition being encoded: its output grows in a temporary file that readers follow, and
/// on success it is renamed into place atomically (a crash mid-encode leaves only a temporary
/// file, never a half rendition that looks complete).
///
/// Output goes to disk (the page cache), not to memory, so however many readers follow an encode
/// and however long the track, memory per encode stays bounded.
final class TranscodeSession: Sendable {
    enum Phase: Sendable, Equatable {
        case running
        case finished(length: Int64)
        case failed(reason: String)
    }

    private struct State {
        var produced: Int64 = 0
        var phase: Phase = .running
        var firstAudioPageEnd: Int64?
        var waiters: [(id: UInt64, threshold: Int64, continuation: CheckedContinuation<Void, Never>)] = []
        var nextWaiter: UInt64 = 0
        /// Waits whose timeout fired before they registered.
        var expired: Set<UInt64> = []
    }

    let key: String
    let temporaryPath: String
    let finalPath: String
    /// Descriptor of the temporary file, valid for the life of the session (also after rename).
    let fd: Int32
    let createdNanos: UInt64
    private let state = Mutex(State())

    /// Creates the temporary output file next to `finalPath`.
    init?(key: String, finalPath: String) {
        self.key = key
        self.finalPath = finalPath
        var rng = SystemRandomNumberGenerator()
        self.temporaryPath = finalPath + ".part-" + String(rng.next() & 0xffff_ffff, radix: 16)
        let fd = open(temporaryPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.createdNanos = MonotonicClock.nanos()
    }

    deinit {
        close(fd)
        if case .failed = phase { unlink(temporaryPath) }
    }

    var phase: Phase { state.withLock { $0.phase } }
    var produced: Int64 { state.withLock { $0.produced } }
    var firstAudioPageEnd: Int64? { state.withLock { $0.firstAudioPageEnd } }

    /// Appends encoder output (called by the one worker driving this session).
    func append(_ bytes: [UInt8], firstAudioPageEnd: Int64?) throws {
        let offset = produced
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw SourceReadError.io(errno: errno) }
                done += n
            }
        }
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.produced += Int64(bytes.count)
            if s.firstAudioPageEnd == nil { s.firstAudioPageEnd = firstAudioPageEnd }
            return Self.takeWaiters(&s)
        }
        for waiter in ready { waiter.resume() }
    }

    /// Makes the output durable and renames it into place.
    func finish() {
        let ok = fsync(fd) == 0 && rename(temporaryPath, finalPath) == 0
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.phase = ok ? .finished(length: s.produced) : .failed(reason: "unreadable_source")
            return Self.takeWaiters(&s)
        }
        if !ok { unlink(temporaryPath) }
        for waiter in ready { waiter.resume() }
    }

    /// Marks the encode failed; readers get `reason`.
    func fail(_ reason: String) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.phase = .failed(reason: reason)
            return Self.takeWaiters(&s)
        }
        unlink(temporaryPath)
        for waiter in ready { waiter.resume() }
    }

    private static func takeWaiters(_ s: inout State) -> [CheckedContinuation<Void, Never>] {
        let done = s.phase != .running
        var ready: [CheckedContinuation<Void, Never>] = []
        s.waiters.removeAll { waiter in
            guard done || waiter.threshold <= s.produced else { return false }
            ready.append(waiter.continuation)
            return true
        }
        return ready
    }

    /// Waits until at least `bytes` are produced or the encode ended, at most `timeout`.
    /// - Returns: the state when it returned.
    func wait(forProduced bytes: Int64, timeout: Duration) async -> (produced: Int64, phase: Phase) {
        let snapshot = state.withLock { ($0.produced, $0.phase) }
        if snapshot.0 >= bytes || snapshot.1 != .running { return snapshot }
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { s -> Bool in
                        if s.produced >= bytes || s.phase != .running { return true }
                        if s.expired.remove(id) != nil { return true }
                        s.waiters.append((id, bytes, continuation))
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                // Release this call's waiter, if it is still waiting.
                let stale = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else {
                        s.expired.insert(id)
                        return nil
                    }
                    return s.waiters.remove(at: i).continuation
                }
                stale?.resume()
            }
            await group.next()
            group.cancelAll()
        }
        return state.withLock { s in
            s.expired.remove(id)
            return (s.produced, s.phase)
        }
    }

    /// Copies produced bytes at `offset` (at most `count`) from the output file.
    func readProduced(offset: Int64, count: Int) throws -> [UInt8] {
        let available = Int(min(Int64(count), produced - offset))
        return try preadFully(fd, count: max(0, available), offset: offset)
    }
}
