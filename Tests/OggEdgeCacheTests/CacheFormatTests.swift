import Foundation
@testable import OggEdgeCache
import Testing

/// The chunk checksum (CRC-32C) and the format mark that keeps caches of an older checksum from
/// being read as corrupt.
@Suite(.serialized) struct CacheFormatTests {
    /// CRC-32C bit by bit, from the definition (reflected polynomial 0x82F63B78).
    static func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = ~0
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
        }
        return ~c
    }

    @Test func checksumIsCRC32C() {
        #expect(Array("123456789".utf8).withUnsafeBytes { ChunkStore.crc($0) } == 0xE306_9283)
        #expect([UInt8]().withUnsafeBytes { ChunkStore.crc($0) } == 0)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Around the three-stream blocks of 3 × 4096 bytes, a chunk's size, and odd offsets.
        for count in [1, 7, 8, 9, 12_287, 12_288, 12_289, 24_577, 65_516, 65_536, 69_999] {
            let slice = bytes[1..<(1 + count)]
            let fast = slice.withUnsafeBytes { ChunkStore.crc($0) }
            #expect(fast == Self.reference(slice), "\(count) bytes")
        }
    }

    /// Writes `value` as the format mark of the cache in `dir` (nil: removes it), as an older
    /// version of OggEdge would have left it.
    static func setMark(_ dir: String, _ value: UInt32?) throws {
        let env = try LMDBEnvironment(directory: dir, mapSize: 16 << 20)
        try env.write { txn in
            if let value {
                try withUnsafeBytes(of: value.littleEndian) { try txn.put(env.meta, key: ChunkStore.formatKey, value: $0) }
            } else {
                _ = try txn.delete(env.meta, key: ChunkStore.formatKey)
            }
        }
    }  // closed as `env` goes

    @Test(arguments: [nil, 1] as [UInt32?])
    func aCacheOfAnotherFormatIsEmptiedWhenOpened(oldMark: UInt32?) async throws {
        let dir = ChunkStoreTests.tempDir()
        var store: ChunkStore? = try ChunkStore(directory: dir, maxBytes: 16 << 20)
        #expect(store!.formatResetChunks == 0)
        let meta = ChunkStoreTests.meta(store!, length: 100_000)
        store!.putMeta(meta, for: "demo_160kbps")
        let id = ChunkID(rendition: "demo_160kbps", generation: meta.generation, index: 0)
        await ChunkStoreTests.put(store!, id, Array(repeating: 9, count: store!.chunkSize))
        #expect(store!.stats().renditions == 1)
        store!.close()
        store = nil

        // Reopened as it is: the same format, nothing dropped.
        store = try ChunkStore(directory: dir, maxBytes: 16 << 20)
        #expect(store!.formatResetChunks == 0)
        #expect(ChunkStoreTests.read(store!, id).0 == .found)
        store!.close()
        store = nil

        try Self.setMark(dir, oldMark)
        store = try ChunkStore(directory: dir, maxBytes: 16 << 20)
        #expect(store!.formatResetChunks == 1)
        #expect(ChunkStoreTests.read(store!, id).0 == .missing)
        #expect(store!.meta("demo_160kbps") == nil)
        #expect(store!.stats().renditions == 0)
        #expect(store!.stats().checksumFailures == 0)
        // Generations keep counting from where the old cache was.
        #expect(store!.nextGeneration() > meta.generation)
        // And the emptied cache works.
        let next = ChunkStoreTests.meta(store!, length: 100_000)
        store!.putMeta(next, for: "demo_160kbps")
        let fresh = ChunkID(rendition: "demo_160kbps", generation: next.generation, index: 0)
        await ChunkStoreTests.put(store!, fresh, Array(repeating: 7, count: 100))
        #expect(ChunkStoreTests.read(store!, fresh) == (.found, Array(repeating: 7, count: 100)))
        store!.close()
    }
}
