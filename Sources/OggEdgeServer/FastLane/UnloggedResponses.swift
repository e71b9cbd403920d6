import Synchronization

/// Renditions with a general-path response whose delivery record is not written yet.
///
/// The general path logs a response a little after its last byte left (it waits for the socket
/// to take the bytes, then hops back to its task); the fast lane logs synchronously. A client
/// that reads one response and at once asks again for the same rendition (the `UPSTREAM`, then
/// `HIT` of a fresh edge) must find the records in that order, so the fast lane leaves a
/// rendition to the general path while one of its general responses is unlogged. Lock-free in the
/// common case: when nothing is unlogged, a check is one atomic load.
final class UnloggedResponses: Sendable {
    private let total = Atomic<Int>(0)
    private let byRendition = Mutex<[String: Int]>([:])

    func begin(_ key: String) {
        byRendition.withLock { $0[key, default: 0] += 1 }
        total.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    func end(_ key: String) {
        byRendition.withLock { map in
            let left = (map[key] ?? 1) - 1
            map[key] = left > 0 ? left : nil
        }
        total.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// True when a general-path response of `key` is still to be logged.
    func isPending(_ key: String) -> Bool {
        guard total.load(ordering: .sequentiallyConsistent) > 0 else { return false }
        return byRendition.withLock { $0[key] != nil }
    }
}
