import OggEdgeCore
import Synchronization

/// Keeps delivery records of one rendition in the order a client can observe.
///
/// The general path logs a response a little after its last byte left (it waits for the socket
/// to take the bytes, then hops back to its task); the fast lane logs as soon as the socket took
/// its write. A client that reads one response and at once asks again for the same rendition
/// (the `UPSTREAM`, then `HIT` of a fresh edge) must find the records in that order.
///
/// So every general-path response of a rendition takes a ticket when it starts and gives it back
/// once its record is written. A fast answer whose rendition has tickets out at the moment it is
/// logged is not held back (it is answered at once, like any other): only its record waits, and
/// only for the tickets out at that moment, never for general responses that start later. Those
/// records are written, in order, by the general response that gives back the last of them.
/// Lock-free in the common case: when no ticket is out anywhere, a check is one atomic load.
final class UnloggedResponses: Sendable {
    private struct Rendition {
        /// Tickets of general responses not yet logged (a handful at most: a sorted array).
        var open: [UInt64] = []
        /// Fast-lane records waiting for every ticket up to `after` to come back.
        var waiting: [(after: UInt64, record: DeliveryRecord)] = []
    }

    private let total = Atomic<Int>(0)
    private let state = Mutex<(nextTicket: UInt64, renditions: [String: Rendition])>((1, [:]))

    /// Takes a ticket for a general-path response of `key`, before any of its bytes are written.
    func begin(_ key: String) -> UInt64 {
        let ticket = state.withLock { state -> UInt64 in
            let ticket = state.nextTicket
            state.nextTicket += 1
            state.renditions[key, default: Rendition()].open.append(ticket)
            return ticket
        }
        total.wrappingAdd(1, ordering: .sequentiallyConsistent)
        return ticket
    }

    /// Gives `ticket` back once its response's record is written, and writes (through `submit`,
    /// in arrival order) the fast-lane records that were waiting only for tickets now back.
    func end(_ key: String, ticket: UInt64, submit: (DeliveryRecord) -> Void) {
        state.withLock { state in
            guard var rendition = state.renditions[key] else { return }
            rendition.open.removeAll { $0 == ticket }
            let oldest = rendition.open.first ?? .max
            var released = 0
            while released < rendition.waiting.count, rendition.waiting[released].after < oldest {
                submit(rendition.waiting[released].record)
                released += 1
            }
            rendition.waiting.removeFirst(released)
            state.renditions[key] = rendition.open.isEmpty && rendition.waiting.isEmpty ? nil : rendition
        }
        total.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Holds `record` (a fast answer of `key`) back when general responses of `key` are still
    /// to be logged, and answers true; false when nothing is out and the caller writes it now.
    func holdIfPending(_ key: String, _ record: DeliveryRecord) -> Bool {
        guard total.load(ordering: .sequentiallyConsistent) > 0 else { return false }
        return state.withLock { state in
            guard var rendition = state.renditions[key], !rendition.open.isEmpty || !rendition.waiting.isEmpty else { return false }
            rendition.waiting.append((after: state.nextTicket - 1, record: record))
            state.renditions[key] = rendition
            return true
        }
    }
}
