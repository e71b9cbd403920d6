import Foundation

/// Runs blocking work (a socket read, a child process, a Redis start) on a thread of its own,
/// never on Swift's cooperative pool: tests run the server in the same process, and a test that
/// blocks the pool's few threads would starve the very server it is waiting for.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.start()
    }
}

/// ``offload(_:)`` for work that cannot fail.
public func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            continuation.resume(returning: work())
        }
        thread.start()
    }
}
