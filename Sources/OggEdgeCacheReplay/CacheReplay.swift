#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCache

/// A trace-driven measurement of the chunk cache's hit ratio, without HTTP or a fleet: the
/// request stream of `bench/fleet-load.py` (Zipf-popular tracks; per play `bytes=0-`, with
/// p = 0.5 a 64 KiB tail probe, with p = 0.3 a seek `bytes=N-`, N < 400,000) replayed against real
/// ``ChunkStore``s on real LMDB files, one per edge, each bounded to a fraction of the
/// catalogue's bytes, the way an edge of `bench/fleet.sh` uses its cache:
///
/// - a rendition never seen is pulled from the slice of the request's first byte to its end and
///   every chunk is stored (the fleet's "first request of a pull runs to the end");
/// - on a rendition seen before, each chunk of the range is read from the cache in order; a
///   missing one is fetched with its slice (`sliceChunks` chunks) and the slice is stored again;
/// - a response is a hit only if every chunk of its range was in the cache (as the delivery
///   log's `HIT`), and the byte hit ratio is compared with the best static choice: per edge, the
///   tracks it was asked most, as many whole tracks as the bound's bytes would hold.
///
/// Every request's writes are committed (and eviction has run) before the next request, so a
/// run is deterministic for a seed.
public struct CacheReplay: Sendable {
    /// What to replay.
    public struct Configuration: Sendable {
        public var tracks = 300
        /// Bytes per rendition (the fleet's 30 s, 160 kbps track).
        public var trackBytes = 560_363
        public var alpha = 1.0
        /// Each edge's bound as a fraction of the catalogue's bytes.
        public var cacheFraction = 0.10
        /// Tracks are split over this many edges by a hash of the track (HAProxy `balance uri`).
        public var edges = 3
        /// Plays in all, and how many of the first are left out of the ratios.
        public var plays = 20_000
        public var warmupPlays = 6_000
        public var seed: UInt64 = 1
        public var sliceChunks = 4
        /// Plays in progress at once, their requests interleaved (the fleet runs 12 players).
        public var players = 1
        /// Parent of the edges' cache directories (created; each run uses fresh subdirectories).
        public var directory: String
        /// Chunk size (the cache's default unless set).
        public var chunkSize = ChunkStore.defaultChunkSize

        public init(directory: String) { self.directory = directory }
    }

    /// What a replay measured.
    public struct Result: Sendable, CustomStringConvertible {
        public var hitBytes: Int64 = 0
        public var askedBytes: Int64 = 0
        public var bestStaticBytes: Int64 = 0
        public var responses = 0
        public var hits = 0
        /// Whole tracks the bound holds (the best static choice's size per edge).
        public var slots = 0
        public var bound = 0
        public var evictions: Int64 = 0
        public var droppedWrites: Int64 = 0
        /// Largest `data.mdb` of any edge at the end (bytes on disk, `stat`).
        public var largestDataFile: Int64 = 0
        /// Largest live bytes of any edge seen after a request.
        public var largestLive: Int64 = 0
        /// Mean live bytes after the warm-up, as a fraction of the bound.
        public var meanFill: Double = 0

        public var hitRatio: Double { askedBytes == 0 ? 0 : Double(hitBytes) / Double(askedBytes) }
        public var bestStaticRatio: Double { askedBytes == 0 ? 0 : Double(bestStaticBytes) / Double(askedBytes) }
        public var ofBest: Double { bestStaticBytes == 0 ? 0 : Double(hitBytes) / Double(bestStaticBytes) }

        public var description: String {
            func f(_ x: Double) -> String { String(Int((x * 1000).rounded())).leftPadded(4, "0").withPoint }
            return "byte hit ratio \(f(hitRatio)) vs best static \(f(bestStaticRatio)) (\(slots) tracks per edge): "
                + "\(f(ofBest))x of the best; responses \(responses), hits \(hits); evictions \(evictions), "
                + "dropped writes \(droppedWrites); bound \(bound), largest data.mdb \(largestDataFile), "
                + "largest live \(largestLive), mean fill \(f(meanFill))"
        }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Runs the replay (seconds to minutes, depending on `plays` and the disk).
    public func run() async throws -> Result {
        let c = configuration
        let catalogue = c.tracks * c.trackBytes
        let bound = Int(Double(catalogue) * c.cacheFraction)
        var rng = SplitMix64(seed: c.seed)
        let run = "\(c.directory)/replay-\(rng.next() % 1_000_000_000)"
        var stores: [ChunkStore] = []
        for e in 0..<c.edges { stores.append(try ChunkStore(directory: "\(run)/e\(e)", maxBytes: bound, chunkSize: c.chunkSize)) }
        defer { for s in stores { s.close() } }
        // Zipf(alpha) over track ranks.
        var cdf: [Double] = []
        var total = 0.0
        for i in 0..<c.tracks { total += 1 / pow(Double(i + 1), c.alpha); cdf.append(total) }
        var partition = SplitMix64(seed: 0x9e37_79b9 ^ c.seed)
        let edgeOf = (0..<c.tracks).map { _ in Int(partition.next() % UInt64(c.edges)) }
        let chunkSize = c.chunkSize
        let chunkCount = (c.trackBytes + chunkSize - 1) / chunkSize
        let payload = (0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var asked = Array(repeating: [Int: Int64](), count: c.edges)
        var result = Result()
        result.bound = bound
        result.slots = bound / c.trackBytes
        var fillSum = 0.0
        var fillCount = 0
        let length = Int64(c.trackBytes)

        func chunkBytes(_ index: Int) -> [UInt8] {
            Array(payload.prefix(min(chunkSize, c.trackBytes - index * chunkSize)))
        }
        // `players` plays in progress at once; each step, a player picked at random sends its
        // play's next request (so other plays' reads come between a play's own requests).
        var started = 0
        func newPlay() -> (track: Int, ranges: [(Int64, Int64)], play: Int) {
            let u = Double(rng.next() >> 11) / Double(1 << 53) * total
            var lo = 0, hi = c.tracks - 1
            while lo < hi { let mid = (lo + hi) / 2; if cdf[mid] < u { lo = mid + 1 } else { hi = mid } }
            var ranges: [(Int64, Int64)] = [(0, length - 1)]
            if rng.unit() < 0.5 { ranges.append((length - 65_536, length - 1)) }
            if rng.unit() < 0.3 { ranges.append((Int64(rng.next() % 400_000), length - 1)) }
            started += 1
            return (lo, ranges, started - 1)
        }
        let players = max(1, c.players)
        var active = (0..<players).map { _ in newPlay() }
        while true {
            let p = players == 1 ? 0 : Int(rng.next() % UInt64(players))
            if active[p].ranges.isEmpty {
                guard started < c.plays else { if active.allSatisfy({ $0.ranges.isEmpty }) { break } else { continue } }
                active[p] = newPlay()
            }
            let track = active[p].track
            let play = active[p].play
            let request = active[p].ranges.removeFirst()
            let edge = edgeOf[track]
            let store = stores[edge]
            let key = "t\(String(track).leftPadded(4, "0"))_160kbps"
            for (start, end) in [request] {
                let first = Int(start) / chunkSize, last = Int(end) / chunkSize
                var hit = true
                if let meta = store.meta(key) {
                    var refetched = Set<Int>()
                    for index in first...last {
                        let id = ChunkID(rendition: key, generation: meta.generation, index: UInt32(index))
                        guard store.withChunk(id, { _ in }) != .found else { continue }
                        hit = false
                        let slice = index / c.sliceChunks
                        guard !refetched.contains(slice) else { continue }
                        refetched.insert(slice)
                        for j in (slice * c.sliceChunks)..<min(chunkCount, (slice + 1) * c.sliceChunks) where j >= index {
                            store.putChunk(ChunkID(rendition: key, generation: meta.generation, index: UInt32(j)), bytes: chunkBytes(j))
                        }
                    }
                } else {
                    hit = false
                    let meta = RenditionMeta(
                        generation: store.nextGeneration(), chunkSize: chunkSize, length: length, etag: key,
                        lastModified: 1, durationMillis: 30_000, playbackOffset: nil,
                        source: SourceIdentity(size: length, mtimeNanos: 1, inode: UInt64(track), device: 0), kind: .upstream
                    )
                    store.putMeta(meta, for: key)
                    for j in (first / c.sliceChunks * c.sliceChunks)..<chunkCount {
                        store.putChunk(ChunkID(rendition: key, generation: meta.generation, index: UInt32(j)), bytes: chunkBytes(j))
                    }
                }
                await withCheckedContinuation { k in store.afterQueuedWrites { k.resume() } }
                let stats = store.stats()
                result.largestLive = max(result.largestLive, stats.bytes)
                if play >= c.warmupPlays {
                    let bytes = end - start + 1
                    asked[edge][track, default: 0] += bytes
                    result.askedBytes += bytes
                    result.responses += 1
                    if hit { result.hitBytes += bytes; result.hits += 1 }
                    fillSum += Double(stats.bytes) / Double(bound)
                    fillCount += 1
                }
            }
        }
        for e in 0..<c.edges {
            result.bestStaticBytes += asked[e].values.sorted(by: >).prefix(result.slots).reduce(0, +)
            let s = stores[e].stats()
            result.evictions += s.evictions
            result.droppedWrites += s.droppedWrites
            var st = stat()
            if stat("\(run)/e\(e)/data.mdb", &st) == 0 { result.largestDataFile = max(result.largestDataFile, Int64(st.st_size)) }
        }
        result.meanFill = fillCount == 0 ? 0 : fillSum / Double(fillCount)
        for s in stores { s.close() }
        for e in 0..<c.edges {
            unlink("\(run)/e\(e)/data.mdb")
            unlink("\(run)/e\(e)/lock.mdb")
            rmdir("\(run)/e\(e)")
        }
        rmdir(run)
        return result
    }
}

/// A small seeded generator (SplitMix64): the same stream on every platform.
public struct SplitMix64 {
    var state: UInt64
    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character) -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
    /// "0812" → "0.812".
    var withPoint: String { String(dropLast(3)) + "." + String(suffix(3)) }
}
