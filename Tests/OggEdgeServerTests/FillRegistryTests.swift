import Dispatch
@testable import OggEdgeCache
@testable import OggEdgeServer
import Synchronization
import Testing

/// Coalescing: concurrent fills of one chunk read the source once.
struct FillRegistryTests {
    @Test func concurrentFillsOfOneChunkReadTheSourceOnce() async throws {
        let registry = FillRegistry()
        let id = ChunkID(rendition: "x_96kbps", generation: 1, index: 0)
        let loads = Counter()
        let stored = Counter()
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        async let first = registry.fill(id, load: {
            loads.increment()
            entered.signal()
            _ = release.wait(timeout: .now() + 10)
            return [1, 2, 3]
        }, store: { _ in stored.increment() })
        // Wait until the first load is under way, then ask for the same chunk.
        await withCheckedContinuation { c in DispatchQueue.global().async { entered.wait(); c.resume() } }
        async let second = registry.fill(id, load: {
            loads.increment()
            return [9]
        }, store: { _ in stored.increment() })
        try await Task.sleep(for: .milliseconds(50))
        release.signal()
        let (a, b) = try await (first, second)
        #expect(a.bytes == [1, 2, 3] && b.bytes == [1, 2, 3])
        #expect(a.source == .loaded)
        #expect(b.source == .joined)
        #expect(loads.value == 1)
        #expect(stored.value == 1)
        // Until the writer commits, later requests get the buffered bytes.
        let third = try await registry.fill(id, load: { [0] }, store: { _ in })
        #expect(third.source == .buffered && third.bytes == [1, 2, 3])
        registry.finish(id)
        let fourth = try await registry.fill(id, load: { [4] }, store: { _ in })
        #expect(fourth.source == .loaded && fourth.bytes == [4])
    }

    @Test func aFailedLoadIsNotRemembered() async throws {
        struct Boom: Error {}
        let registry = FillRegistry()
        let id = ChunkID(rendition: "x_96kbps", generation: 1, index: 1)
        await #expect(throws: Boom.self) { try await registry.fill(id, load: { throw Boom() }, store: { _ in }) }
        let retry = try await registry.fill(id, load: { [7] }, store: { _ in })
        #expect(retry.source == .loaded && retry.bytes == [7])
    }
}

/// A thread-safe counter for closures run on other tasks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
