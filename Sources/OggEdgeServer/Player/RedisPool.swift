import NIOCore
import NIOPosix
import OggEdgeDelivery
import OggEdgeRedis
import Synchronization

/// Redis could not be reached or answered with an error: the request answers `503`.
struct RedisUnavailable: Error, CustomStringConvertible {
    let description: String
}

/// A small pool of blocking hiredis connections, used from a dedicated thread pool so a slow or
/// dead Redis never blocks an event loop or the cooperative pool.
///
/// Every call is bounded: connecting takes at most `connectTimeout`, a command at most
/// `commandTimeout`. After a failed connect, new connects are not tried for `backoff` (calls fail
/// at once), so a Redis outage costs requests a fast `503`, never a hang.
final class RedisPool: Sendable {
    let endpoint: RedisEndpoint
    private let threads: NIOThreadPool
    private let idle = Mutex<(connections: [RedisConnection], lastFailure: UInt64)>(([], 0))
    private let maxIdle: Int
    private let connectTimeout: Duration
    private let commandTimeout: Duration
    private let backoffNanos: UInt64

    /// The threads every pool in the process shares (four: Redis calls are short).
    private static let sharedThreads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    init(endpoint: RedisEndpoint, maxIdle: Int = 4, connectTimeout: Duration = .milliseconds(300),
         commandTimeout: Duration = .seconds(1), backoff: Duration = .milliseconds(250)) {
        self.endpoint = endpoint
        self.threads = Self.sharedThreads
        self.maxIdle = maxIdle
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        let (s, atto) = backoff.components
        self.backoffNanos = UInt64(s) * 1_000_000_000 + UInt64(atto / 1_000_000_000)
    }

    /// Runs `body` with a connection on the pool's threads; a connection that failed is dropped.
    func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws(RedisUnavailable) -> T {
        do {
            return try await threads.runIfActive { [self] in
                let connection = try checkOut()
                do {
                    let result = try body(connection)
                    checkIn(connection)
                    return result
                } catch let error as RedisConnectionError {
                    throw RedisUnavailable(description: error.description)  // connection dropped
                } catch {
                    checkIn(connection)  // an error reply: the connection is fine
                    throw error
                }
            }
        } catch let error as RedisUnavailable {
            throw error
        } catch {
            throw RedisUnavailable(description: "\(error)")
        }
    }

    /// One command; an error reply becomes ``RedisUnavailable``.
    func command(_ arguments: [String]) async throws(RedisUnavailable) -> RedisReply {
        try await pipeline([arguments])[0]
    }

    /// Several commands in one round trip; any error reply becomes ``RedisUnavailable``.
    func pipeline(_ commands: [[String]]) async throws(RedisUnavailable) -> [RedisReply] {
        let replies = try await run { try $0.pipeline(commands) }
        if let message = replies.lazy.compactMap(\.errorMessage).first {
            throw RedisUnavailable(description: "redis error: \(message)")
        }
        return replies
    }

    private func checkOut() throws -> RedisConnection {
        let reused = try idle.withLock { state -> RedisConnection? in
            if let c = state.connections.popLast() { return c }
            if state.lastFailure != 0, MonotonicClock.nanos() &- state.lastFailure < backoffNanos {
                throw RedisUnavailable(description: "redis at \(endpoint) unreachable (backing off)")
            }
            return nil
        }
        if let reused { return reused }
        do {
            return try RedisConnection(endpoint: endpoint, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
        } catch {
            idle.withLock { $0.lastFailure = MonotonicClock.nanos() }
            throw RedisUnavailable(description: error.description)
        }
    }

    private func checkIn(_ connection: RedisConnection) {
        idle.withLock { state in
            state.lastFailure = 0
            if state.connections.count < maxIdle { state.connections.append(connection) }
        }
    }
}

extension RedisReply {
    /// The text of a bulk string or status, nil otherwise.
    var text: String? {
        switch self {
        case .string(let s), .status(let s): s
        default: nil
        }
    }
}
