import OggEdgeDelivery
import OggEdgeRedis
import Synchronization

/// The last `capacity` event ids seen, for deduplication without Redis.
final class EventWindow: Sendable {
    private let state = Mutex<(set: Set<String>, order: [String], head: Int)>((Set(), [], 0))
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Inserts `id`; true if it was not already in the window.
    @discardableResult
    func insert(_ id: String) -> Bool {
        state.withLock { s in
            guard s.set.insert(id).inserted else { return false }
            if s.order.count < capacity {
                s.order.append(id)
            } else {
                s.set.remove(s.order[s.head])
                s.order[s.head] = id
                s.head = (s.head + 1) % capacity
            }
            return true
        }
    }
}

/// A reconnect was tried less than a second ago.
struct BackingOff: Error {}

/// A Redis connection made on first use and remade after a failure (at most once a second),
/// for blocking commands run on NIO's thread pool, never on an event loop.
final class LazyRedis: Sendable {
    let endpoint: RedisEndpoint
    private let state = Mutex<(connection: RedisConnection?, lastAttempt: UInt64)>((nil, 0))

    init(endpoint: RedisEndpoint) {
        self.endpoint = endpoint
    }

    func command(_ arguments: [String]) throws -> RedisReply {
        let connection = try state.withLock { s -> RedisConnection in
            if let c = s.connection { return c }
            let now = MonotonicClock.nanos()
            guard now &- s.lastAttempt > 1_000_000_000 else { throw BackingOff() }
            s.lastAttempt = now
            let c = try RedisConnection(endpoint: endpoint)
            s.connection = c
            return c
        }
        do {
            return try connection.command(arguments)
        } catch {
            state.withLock { $0.connection = nil }
            throw error
        }
    }
}
