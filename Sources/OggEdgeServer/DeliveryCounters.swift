import OggEdgeCore
import Synchronization

/// Responses counted by where their bytes came from (for `/admin/stats`).
final class DeliveryCounters: Sendable {
    private let counts = Mutex<[CacheResult: Int64]>([:])

    func count(_ result: CacheResult) {
        counts.withLock { $0[result, default: 0] += 1 }
    }

    subscript(_ result: CacheResult) -> Int64 {
        counts.withLock { $0[result] ?? 0 }
    }
}
