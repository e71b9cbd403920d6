import Foundation
@testable import OggEdgeCache
import OggEdgeCacheReplay
import Testing

/// The fleet's request stream replayed against real chunk stores (`CacheReplay`): deterministic
/// for its seed (every request's writes and evictions are committed before the next request), so
/// these are floors on a computed number, not timing assertions.
@Suite(.serialized) struct HitRatioReplayTests {
    static func configuration(alpha: Double, fraction: Double) -> CacheReplay.Configuration {
        var c = CacheReplay.Configuration(directory: FileManager.default.temporaryDirectory.path)
        c.alpha = alpha
        c.cacheFraction = fraction
        c.plays = 9_000
        c.warmupPlays = 3_000
        c.seed = 7
        return c
    }

    @Test func zipfOneWithATenthOfTheCatalogueIsNearTheBestStaticChoice() async throws {
        let result = try await CacheReplay(Self.configuration(alpha: 1.0, fraction: 0.10)).run()
        print("replay Zipf 1.0, 10 %:", result)
        #expect(result.ofBest >= 0.97)
        #expect(result.largestDataFile <= Int64(result.bound))
        // A chunk write dropped after the writer's `MDB_MAP_FULL` retry is served uncached, not
        // lost; how many depends on how the writer batched its commits (timing): 0-4 per run with
        // the recency-only order, 20-28 since eviction follows play counts (its victims are more
        // scattered, so freed runs are shorter), against 184-1,816 per longer run before the retry
        // that commits a batch without its chunks. So the floor is a rate: at most one in 200 of
        // this replay's ~22,000 chunk writes.
        #expect(result.droppedWrites <= 100)
        #expect(result.meanFill >= 0.88)
    }

    @Test func aSteeperPopularityCurveGetsNearNinetyPercent() async throws {
        let steeper = try await CacheReplay(Self.configuration(alpha: 1.2, fraction: 0.10)).run()
        print("replay Zipf 1.2, 10 %:", steeper)
        #expect(steeper.ofBest >= 0.97)
        #expect(steeper.hitRatio >= 0.85)
        #expect(steeper.largestDataFile <= Int64(steeper.bound))
    }
}
