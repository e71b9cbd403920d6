import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Counts the body bytes the socket really accepted, per response, on one connection.
///
/// `ConnectionGuardHandler` sees every response part on its way to the socket and attaches to
/// each write's promise: a body write counts once the kernel took it. When the response's end is
/// flushed (or the connection dies first), the response's total and whether it was cut short are
/// final, and ``awaitResponse(timeout:)`` returns them. The delivery log's `bytes_sent` and
/// `aborted` come from here, not from what the application handed to the channel.
final class DeliveryMeter: Sendable {
    private struct State {
        var heads: UInt64 = 0
        var accepted: Int64 = 0
        var responseStart: Int64 = 0
        var outcome: (bytes: Int64, aborted: Bool)?
        var waiter: CheckedContinuation<(bytes: Int64, aborted: Bool)?, Never>?
        var waiterNumber: UInt64 = 0
        var closed = false
        /// A streaming response waiting for the socket to take its bytes (see ``awaitAccepted(_:)``).
        var windowWaiter: (bytes: Int64, continuation: CheckedContinuation<Void, Never>)?
    }

    private let state = Mutex(State())

    /// Response heads seen on this connection so far.
    var heads: UInt64 { state.withLock { $0.heads } }

    /// Body bytes the socket accepted on this connection so far (progress, for the stall check).
    var acceptedBytes: Int64 { state.withLock { $0.accepted } }

    func responseStarted() {
        state.withLock { s in
            s.heads += 1
            s.responseStart = s.accepted
            s.outcome = nil
        }
    }

    func accepted(_ bytes: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.accepted += Int64(bytes)
            guard let w = s.windowWaiter, s.accepted - s.responseStart >= w.bytes else { return nil }
            s.windowWaiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// Waits until the socket has accepted at least `bytes` body bytes of the response being
    /// written (or the connection closed). A streaming response keeps at most a window of bytes
    /// between what it handed to the channel and what the kernel took: without it, the producer
    /// (a task on the cooperative pool) ran ahead of the event loop's writability news and a slow
    /// reader held 1.4 MB of queued chunks.
    func awaitAccepted(_ bytes: Int64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (ready, replaced) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
                if s.closed || s.accepted - s.responseStart >= bytes { return (true, nil) }
                let replaced = s.windowWaiter?.continuation
                s.windowWaiter = (bytes, continuation)
                return (false, replaced)
            }
            replaced?.resume()
            if ready { continuation.resume() }
        }
    }

    func responseEnded(aborted: Bool) {
        let (waiter, outcome) = state.withLock { s -> (CheckedContinuation<(bytes: Int64, aborted: Bool)?, Never>?, (bytes: Int64, aborted: Bool)) in
            let outcome = (s.accepted - s.responseStart, aborted)
            s.outcome = outcome
            guard s.waiterNumber == s.heads else { return (nil, outcome) }
            defer { s.waiter = nil }
            return (s.waiter, outcome)
        }
        waiter?.resume(returning: outcome)
    }

    func connectionClosed() {
        let window = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true  // from here on no window waiter is kept
            defer { s.windowWaiter = nil }
            return s.windowWaiter?.continuation
        }
        window?.resume()
        let (waiter, outcome) = state.withLock { s -> (CheckedContinuation<(bytes: Int64, aborted: Bool)?, Never>?, (bytes: Int64, aborted: Bool)?) in
            s.closed = true
            if s.outcome == nil { s.outcome = (s.accepted - s.responseStart, true) }
            // A waiter for a response whose head never reached the socket gets nothing.
            let outcome = s.waiterNumber == s.heads ? s.outcome : nil
            defer { s.waiter = nil }
            return (s.waiter, outcome)
        }
        waiter?.resume(returning: outcome)
    }

    /// The bytes the socket accepted for response number `number` (counted in heads) and whether
    /// it was cut short. Waits until its end was flushed or the connection closed; the stalled-
    /// client timeout bounds that wait. `nil` if that response never wrote a head.
    func awaitResponse(number: UInt64) async -> (bytes: Int64, aborted: Bool)? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> (bytes: Int64, aborted: Bool)?? in
                if s.heads == number, let done = s.outcome { return .some(done) }
                if s.closed { return .some(s.heads == number ? (s.accepted - s.responseStart, true) : nil) }
                if s.heads > number { return .some(nil) }
                // The head (or end) is still on its way through the pipeline.
                s.waiter?.resume(returning: nil)
                s.waiter = continuation
                s.waiterNumber = number
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// Finds a connection's meter from its channel.
final class DeliveryMeters: Sendable {
    static let shared = DeliveryMeters()
    private let meters = Mutex<[ObjectIdentifier: DeliveryMeter]>([:])

    func register(_ meter: DeliveryMeter, for channel: any Channel) {
        meters.withLock { $0[ObjectIdentifier(channel)] = meter }
    }

    func remove(for channel: any Channel) {
        _ = meters.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func meter(for channel: any Channel) -> DeliveryMeter? {
        meters.withLock { $0[ObjectIdentifier(channel)] }
    }
}
