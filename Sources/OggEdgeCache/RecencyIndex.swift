#if canImport(Glibc)
import Glibc
#endif

/// What the cache knows of each chunk it holds, kept in memory (rebuilt from the keys at start):
/// when it was last used, how many separate plays read it, whether its CRC was checked, and
/// its segment in a segmented LRU with frequency.
///
/// Every chunk is in one of two segments. A chunk written, or read only shortly after its last
/// use, is on **probation**; a chunk read again after more than `window` other touches (a later
/// play, not the same player's next request) is **protected**, and each such read counts one
/// more play. The protected segment holds at most `protectedLimit` chunks: past it, its least
/// used chunks go back to probation. Eviction always takes probation first, then the protected
/// segment; inside each, chunks read by fewer plays go first and, among equals, the least
/// recently used. So a chunk read once goes before a chunk read again, and a chunk of a track
/// many players came back to outlives one that only a few did. Play counts halve every
/// `agingPeriod` touches, so yesterday's hit gives way to today's.
struct RecencyIndex {
    struct Entry {
        var tick: UInt64
        var plays: UInt32 = 0
        var verified = false
        var protected = false
    }

    private(set) var entries: [ChunkID: Entry] = [:]
    private(set) var protectedCount = 0
    private(set) var clock: UInt64 = 0
    /// Touches that must separate two reads of a chunk for the second to count as a new play.
    var window: UInt64 = 64
    /// Most chunks in the protected segment.
    var protectedLimit = Int.max
    /// Touches between two halvings of every play count (0: never).
    var agingPeriod: UInt64 = 0
    private var nextAging: UInt64 = 0

    /// The chunks the index knows.
    var ids: Dictionary<ChunkID, Entry>.Keys { entries.keys }

    func isVerified(_ id: ChunkID) -> Bool { entries[id]?.verified ?? false }
    func isProtected(_ id: ChunkID) -> Bool { entries[id]?.protected ?? false }
    func plays(_ id: ChunkID) -> UInt32 { entries[id]?.plays ?? 0 }

    /// Marks `id` used now. `read`: a read (may count a play and protect it); otherwise a write
    /// or the index's rebuild.
    mutating func touch(_ id: ChunkID, verified isVerified: Bool = false, read: Bool = false) {
        if let i = entries.index(forKey: id) {
            clock += 1
            if Self.mark(&entries.values[i], clock: clock, window: window, read: read) { protectedCount += 1 }
            if isVerified { entries.values[i].verified = true }
        } else {
            clock += 1
            entries[id] = Entry(tick: clock, verified: isVerified)
        }
        age()
    }

    /// Marks as read now those of `count` consecutive chunks the index knows (one lookup each)
    /// and returns which of them were already verified (bit `i` for the `i`-th chunk).
    mutating func touchRead(count: Int, _ id: (Int) -> ChunkID) -> (verified: UInt64, unknown: UInt64) {
        var verified: UInt64 = 0
        var unknown: UInt64 = 0
        var n = 0
        while n < count {
            if let i = entries.index(forKey: id(n)) {
                clock += 1
                if Self.mark(&entries.values[i], clock: clock, window: window, read: true) { protectedCount += 1 }
                if entries.values[i].verified { verified |= 1 << UInt64(n) }
            } else {
                unknown |= 1 << UInt64(n)
            }
            n += 1
        }
        age()
        return (verified, unknown)
    }

    /// Marks `entry` used at `clock`; true when this read protected it.
    private static func mark(_ entry: inout Entry, clock: UInt64, window: UInt64, read: Bool) -> Bool {
        var protected = false
        if read, clock - entry.tick > window {
            if entry.plays < .max { entry.plays += 1 }
            if !entry.protected {
                entry.protected = true
                protected = true
            }
        }
        entry.tick = clock
        return protected
    }

    private mutating func age() {
        guard agingPeriod > 0 else { return }
        if nextAging == 0 { nextAging = clock + agingPeriod }
        guard clock >= nextAging else { return }
        nextAging = clock + agingPeriod
        for i in entries.indices { entries.values[i].plays /= 2 }
    }

    mutating func remove(_ id: ChunkID) {
        if let entry = entries.removeValue(forKey: id), entry.protected { protectedCount -= 1 }
    }

    /// The chunks to evict first, in order (the caller stops taking when it has freed enough):
    /// the probation segment, then the protected one, fewest plays then least recently used
    /// first in each. The protected segment is first brought back to its limit (its least used
    /// go to probation).
    ///
    /// - Parameter count: how many the caller expects to take: only the first `count` of the
    ///   order are picked out (one pass, no sort of every entry); fewer come back only when the
    ///   index holds fewer. The writer evicts a few chunks per commit out of thousands.
    mutating func evictionOrder(first count: Int = .max) -> [ChunkID] {
        var excess = protectedCount - protectedLimit
        if excess > 0 {
            for id in Self.smallest(excess, of: entries, where: { $0.protected }) {
                entries[id]?.protected = false
                protectedCount -= 1
                excess -= 1
            }
        }
        var order = Self.smallest(count, of: entries, where: { !$0.protected })
        if order.count < count {
            order += Self.smallest(count - order.count, of: entries, where: { $0.protected })
        }
        return order
    }

    /// Whether `a` goes before `b` within a segment: fewer plays, then less recently used.
    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        if a.plays != b.plays { return a.plays < b.plays }
        return a.tick < b.tick
    }

    /// The `count` entries matching `filter` that go first, in order. Ticks are unique, so the
    /// order is total and the result does not depend on the dictionary's order.
    private static func smallest(_ count: Int, of entries: [ChunkID: Entry], where filter: (Entry) -> Bool) -> [ChunkID] {
        guard count > 0 else { return [] }
        if count >= entries.count / 4 {
            // Most of the index: a sort is as cheap.
            return entries.filter { filter($0.value) }.sorted { before($0.value, $1.value) }.prefix(count).map(\.key)
        }
        // A bounded list kept in order; an entry is inserted only if it goes before the last.
        var picked: [(id: ChunkID, entry: Entry)] = []
        picked.reserveCapacity(count + 1)
        for (id, entry) in entries where filter(entry) {
            if picked.count == count, let last = picked.last, !before(entry, last.entry) { continue }
            var i = picked.count
            while i > 0 && before(entry, picked[i - 1].entry) { i -= 1 }
            picked.insert((id, entry), at: i)
            if picked.count > count { picked.removeLast() }
        }
        return picked.map(\.id)
    }
}
