import OggEdgeCore
import Synchronization

/// Responses counted by where their bytes came from (for `/admin/stats`): one atomic counter
/// per ``CacheResult``, so counting a response takes no lock and allocates nothing.
final class DeliveryCounters: Sendable {
    private let hit = Atomic<Int64>(0)
    private let miss = Atomic<Int64>(0)
    private let transcode = Atomic<Int64>(0)
    private let coalesced = Atomic<Int64>(0)
    private let upstream = Atomic<Int64>(0)
    private let denied = Atomic<Int64>(0)
    private let error = Atomic<Int64>(0)

    private func counter<T>(_ result: CacheResult, _ body: (borrowing Atomic<Int64>) -> T) -> T {
        switch result {
        case .hit: body(hit)
        case .miss: body(miss)
        case .transcode: body(transcode)
        case .coalesced: body(coalesced)
        case .upstream: body(upstream)
        case .denied: body(denied)
        case .error: body(error)
        }
    }

    func count(_ result: CacheResult) {
        counter(result) { _ = $0.wrappingAdd(1, ordering: .relaxed) }
    }

    subscript(_ result: CacheResult) -> Int64 {
        counter(result) { $0.load(ordering: .relaxed) }
    }
}
