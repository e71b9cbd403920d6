import Foundation
@testable import OggEdgeCache
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pinned ranges: their segments name the right bytes of `data.mdb`, and keep naming them while
/// the rendition is purged and the freed pages are wanted by new writes.
@Suite(.serialized) struct PinnedRangeTests {
    static func pread(_ path: String, _ segments: [PinnedRange.Segment]) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var out: [UInt8] = []
        for s in segments {
            var buffer = [UInt8](repeating: 0, count: s.count)
            let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, s.count, off_t(s.offset)) }
            out += buffer.prefix(max(0, n))
        }
        return out
    }

    @Test func aPinnedRangeKeepsItsBytesThroughAPurgeAndNewWrites() async throws {
        let dir = ChunkStoreTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ChunkStore(directory: dir, maxBytes: 64 << 20)
        defer { store.close() }
        let size = store.chunkSize
        let a = (0..<(3 * size)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        store.putMeta(ChunkStoreTests.meta(store, length: Int64(3 * size), generation: 1), for: "a_160kbps")
        for i in 0..<3 {
            await ChunkStoreTests.put(store, ChunkID(rendition: "a_160kbps", generation: 1, index: UInt32(i)), Array(a[(i * size)..<((i + 1) * size)]))
        }
        let pinned = try #require(store.pin(rendition: "a_160kbps", generation: 1, chunkSize: size, start: 10, end: Int64(3 * size - 5)))
        #expect(Self.pread(store.dataFilePath, pinned.segments) == Array(a[10...(3 * size - 5)]))
        _ = await store.purge(renditions: ["a_160kbps"])
        for round in 0..<4 {
            store.putMeta(ChunkStoreTests.meta(store, length: Int64(3 * size), generation: 2), for: "b\(round)_160kbps")
            for i in 0..<3 {
                let b = [UInt8](repeating: UInt8(round + 1), count: size)
                await ChunkStoreTests.put(store, ChunkID(rendition: "b\(round)_160kbps", generation: 2, index: UInt32(i)), b)
            }
        }
        #expect(Self.pread(store.dataFilePath, pinned.segments) == Array(a[10...(3 * size - 5)]))
        store.unpin(pinned)
    }
}
