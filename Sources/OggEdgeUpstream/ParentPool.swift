import OggEdgeDelivery
import Synchronization

/// The parents and what this node knows of their health; answers "which parents, in which
/// order, for this track".
///
/// Order is rendezvous (highest-random-weight) hashing on the track id: every edge sends a track
/// to the same parent, losing a parent moves only that parent's tracks, and the load spreads
/// evenly. A parent is **down** while its last probe of `/readyz` failed or for a short
/// cool-down after a failure seen by a request (refused, timed out, 5xx, stalled); down parents
/// go to the end of the order, so a request still tries them when nothing else is left.
final class ParentPool: Sendable {
    struct Health: Sendable {
        /// The last probe got an answer (initially assumed).
        var probeUp = true
        /// A request saw this parent fail: down until then (monotonic ns).
        var downUntil: UInt64 = 0
        /// Usable answers received (metrics, tests).
        var answers = 0
    }

    let parents: [ParentEndpoint]
    private let health: Mutex<[Health]>
    private let coolDownNanos: UInt64
    private let seeds: [UInt64]

    init(parents: [ParentEndpoint], coolDown: Duration) {
        self.parents = parents
        self.health = Mutex(Array(repeating: Health(), count: parents.count))
        self.coolDownNanos = UInt64(max(0, coolDown.components.seconds)) * 1_000_000_000
            + UInt64(max(0, coolDown.components.attoseconds / 1_000_000_000))
        self.seeds = parents.map { Self.hash($0.description.utf8, seed: 0x9e37_79b9_7f4a_7c15) }
    }

    /// Parent indices for `trackId`: healthy ones by rendezvous weight, then the down ones.
    func order(for trackId: String, now: UInt64) -> [Int] {
        let weighted = parents.indices.map { i in (i, Self.hash(trackId.utf8, seed: seeds[i])) }
            .sorted { $0.1 > $1.1 }.map(\.0)
        let states = health.withLock { $0 }
        let up = weighted.filter { states[$0].probeUp && states[$0].downUntil <= now }
        let down = weighted.filter { !(states[$0].probeUp && states[$0].downUntil <= now) }
        return up + down
    }

    /// The rendezvous order alone (tests of the spread).
    func rendezvous(for trackId: String) -> [Int] {
        parents.indices.map { i in (i, Self.hash(trackId.utf8, seed: seeds[i])) }.sorted { $0.1 > $1.1 }.map(\.0)
    }

    /// A request saw parent `index` fail.
    func failed(_ index: Int, now: UInt64) {
        health.withLock { $0[index].downUntil = now &+ coolDownNanos }
    }

    /// A request got a good answer from parent `index`.
    func answered(_ index: Int) {
        health.withLock {
            $0[index].downUntil = 0
            $0[index].answers += 1
        }
    }

    /// Usable answers parent `index` gave so far.
    func answers(_ index: Int) -> Int {
        health.withLock { $0[index].answers }
    }

    /// The probe of parent `index` got an answer (`up`) or not.
    /// - Returns: what the previous probe said.
    @discardableResult
    func probed(_ index: Int, up: Bool) -> Bool {
        health.withLock { h in
            let was = h[index].probeUp
            h[index].probeUp = up
            if up && !was { h[index].downUntil = 0 }
            return was
        }
    }

    /// Whether parent `index` is taking traffic now.
    func isUp(_ index: Int, now: UInt64) -> Bool {
        health.withLock { $0[index].probeUp && $0[index].downUntil <= now }
    }

    /// FNV-1a over `bytes` from `seed`, finished with the splitmix64 mixer (so nearby inputs
    /// give unrelated weights).
    static func hash(_ bytes: some Sequence<UInt8>, seed: UInt64) -> UInt64 {
        var h = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return h
    }
}
