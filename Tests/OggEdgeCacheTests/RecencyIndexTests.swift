import OggEdgeCacheReplay
import Testing

@testable import OggEdgeCache

/// The eviction order of the chunk cache's index, on the index alone (no LMDB).
@Suite struct RecencyIndexTests {
    static func id(_ i: Int, _ rendition: String = "idx_160kbps") -> ChunkID {
        ChunkID(rendition: rendition, generation: 1, index: UInt32(i))
    }

    /// An index with `window` 2 and chunks 0..<n written in order.
    static func index(_ n: Int, protectedLimit: Int = .max) -> RecencyIndex {
        var index = RecencyIndex()
        index.window = 2
        index.protectedLimit = protectedLimit
        for i in 0..<n { index.touch(id(i)) }
        return index
    }

    /// Reads `i` as a new play: more than the window of other touches first.
    static func play(_ index: inout RecencyIndex, _ i: Int, filler: Int) {
        for _ in 0..<3 { index.touch(id(filler)) }
        index.touch(id(i), read: true)
    }

    @Test func aReadRightAfterTheLastUseIsNotANewPlay() {
        var index = Self.index(3)
        index.touch(Self.id(2), read: true)
        #expect(index.plays(Self.id(2)) == 0)
        #expect(!index.isProtected(Self.id(2)))
        Self.play(&index, 0, filler: 1)
        #expect(index.plays(Self.id(0)) == 1)
        #expect(index.isProtected(Self.id(0)))
    }

    @Test func probationGoesFirstThenFewerPlaysThenOlder() {
        var index = Self.index(6)
        Self.play(&index, 0, filler: 5)
        Self.play(&index, 0, filler: 5)
        Self.play(&index, 0, filler: 5)  // 3 plays
        Self.play(&index, 1, filler: 5)  // 1 play
        Self.play(&index, 5, filler: 4)  // 1 play, used more recently than 1
        let order = index.evictionOrder()
        // Probation (never played again) oldest first: 2, 3, 4; then the protected ones by plays.
        #expect(order == [2, 3, 4, 1, 5, 0].map { Self.id($0) })
    }

    @Test func theProtectedSegmentOverflowsIntoProbationLeastPlayedFirst() {
        var index = Self.index(5, protectedLimit: 1)
        Self.play(&index, 0, filler: 4)
        Self.play(&index, 0, filler: 4)  // 2 plays
        Self.play(&index, 1, filler: 4)  // 1 play, more recent
        let order = index.evictionOrder()
        // 1 leaves the protected segment (fewer plays than 0) and goes after the unplayed chunks.
        #expect(!index.isProtected(Self.id(1)))
        #expect(index.isProtected(Self.id(0)))
        #expect(order == [2, 3, 4, 1, 0].map { Self.id($0) })
    }

    @Test func playCountsHalveEveryAgingPeriod() {
        var index = Self.index(2)
        index.agingPeriod = 1_000
        for _ in 0..<8 { Self.play(&index, 0, filler: 1) }
        let before = index.plays(Self.id(0))
        #expect(before == 8)
        // Enough touches of another chunk to pass one aging period, no more.
        for _ in 0..<980 { index.touch(Self.id(1)) }
        #expect(index.plays(Self.id(0)) == before / 2)
        // Another period without plays of chunk 0: halved again.
        for _ in 0..<1_000 { index.touch(Self.id(1)) }
        #expect(index.plays(Self.id(0)) == 2)
    }

    @Test func touchReadReportsVerifiedAndUnknownChunksInOneLookupEach() {
        var index = Self.index(3)
        index.touch(Self.id(1), verified: true)
        let (verified, unknown) = index.touchRead(count: 5) { Self.id($0) }
        #expect(verified == 0b00010)
        #expect(unknown == 0b11000)
        // Unknown chunks are not added by a read (a missing chunk must not appear in the index).
        #expect(index.ids.count == 3)
    }

    @Test func removingAProtectedChunkKeepsTheSegmentCountRight() {
        var index = Self.index(4, protectedLimit: 1)
        Self.play(&index, 0, filler: 3)
        index.remove(Self.id(0))
        Self.play(&index, 1, filler: 3)
        _ = index.evictionOrder()
        // With 0's removal counted, 1 is the only protected chunk and stays protected.
        #expect(index.isProtected(Self.id(1)))
    }

    /// The first `k` of the order, picked without sorting every entry, are the first `k` of the
    /// whole order, for indexes of many shapes (plays, recency, a protected segment over its
    /// limit) and every `k` up to past the index's size.
    @Test func theFirstKOfTheOrderAreThePrefixOfTheWholeOrder() {
        var rng = SplitMix64(seed: 42)  // deterministic: the same indexes on every run
        for round in 0..<40 {
            let n = 1 + Int(rng.next() % 300)
            var index = RecencyIndex()
            index.window = rng.next() % 8
            index.protectedLimit = Int(rng.next() % UInt64(n + 1))
            for i in 0..<n { index.touch(Self.id(i, round % 2 == 0 ? "a_96kbps" : "b_320kbps")) }
            for _ in 0..<(n * 4) {
                let i = Int(rng.next() % UInt64(n))
                index.touch(Self.id(i, round % 2 == 0 ? "a_96kbps" : "b_320kbps"), read: rng.next() % 3 != 0)
            }
            for k in [0, 1, 2, 5, n / 8, n / 4 - 1, n / 2, n - 1, n, n + 10] where k >= 0 {
                var whole = index
                var first = index
                let all = whole.evictionOrder()
                #expect(all.count == n)
                #expect(first.evictionOrder(first: k) == Array(all.prefix(k)), "round \(round), n \(n), k \(k)")
                // Both demoted the same chunks from the protected segment.
                #expect(first.protectedCount == whole.protectedCount)
            }
        }
    }
}
