import CLMDB
import Synchronization

/// A byte range of one rendition version held in place in `data.mdb`, so the socket can be fed
/// straight from the file (`sendfile`) instead of through a copy.
///
/// LMDB never overwrites a page that a live read transaction can see: while the range is pinned
/// its bytes stay exactly where ``segments`` say, whatever the writer commits meanwhile. The
/// price is that pages freed after the snapshot cannot be reused until it is released, so pins
/// are bounded in number (``ChunkStore/pinLimit``) and must be released promptly with
/// ``ChunkStore/unpin(_:)`` (a response's end, or its connection's failure).
public struct PinnedRange: Sendable {
    /// One contiguous run of the range's bytes in the data file.
    public struct Segment: Sendable, Equatable {
        /// Offset in `data.mdb`.
        public let offset: Int64
        /// Bytes.
        public let count: Int
    }

    /// The runs, in range order; their counts add up to the range's length.
    public let segments: [Segment]
    let transaction: ParkedTransaction
}

extension ChunkStore {
    /// Most ranges pinned at once (past it, callers copy instead).
    public static let pinLimit = 256

    /// Pins bytes `start...end` of one rendition version (see ``PinnedRange``); nil when a chunk
    /// is missing, short or corrupt, or too many ranges are pinned already.
    public func pin(rendition: String, generation: UInt32, chunkSize: Int, start: Int64, end: Int64) -> PinnedRange? {
        guard start >= 0, end >= start, chunkSize > 0 else { return nil }
        let pageSize = env.pageSize
        let size = Int64(chunkSize)
        let first = start / size
        let last = end / size
        guard last - first < 4096, last <= Int64(UInt32.max) else { return nil }
        guard pinned.wrappingAdd(1, ordering: .relaxed).newValue <= Self.pinLimit else {
            pinned.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        guard let txn = try? env.beginRead() else {
            pinned.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        let count = Int(last - first) + 1
        // One pass under the lock before reading, as in `withRange` (in windows of 64 chunks):
        // which chunks are already verified, and marked used.
        var trusted = [Bool](repeating: false, count: count)
        var unknown = [Bool](repeating: false, count: count)
        book.recency.withLock { r in
            var base = 0
            while base < count {
                let window = min(64, count - base)
                let (verified, missing) = r.touchRead(count: window) {
                    ChunkID(rendition: rendition, generation: generation, index: UInt32(first) + UInt32(base + $0))
                }
                for i in 0..<window {
                    trusted[base + i] = verified & (1 << UInt64(i)) != 0
                    unknown[base + i] = missing & (1 << UInt64(i)) != 0
                }
                base += window
            }
        }
        var segments: [PinnedRange.Segment] = []
        var corrupt: UInt32?
        let complete = ChunkID.withKey(rendition: rendition, generation: generation) { key, setIndex -> Bool in
            for i in 0..<count {
                let index = first + Int64(i)
                setIndex(UInt32(index))
                var mk = MDB_val(mv_size: key.count, mv_data: key.baseAddress)
                var mv = MDB_val()
                guard mdb_get(txn, env.chunks, &mk, &mv) == 0, mv.mv_size >= 4, let value = mv.mv_data else { return false }
                let payload = UnsafeRawBufferPointer(start: value + 4, count: mv.mv_size - 4)
                let chunkStart = index * size
                let lo = Int(max(start, chunkStart) - chunkStart)
                let hi = Int(min(end, chunkStart + size - 1) - chunkStart)
                guard payload.count > hi else { return false }
                if !trusted[i] {
                    guard Self.crc(payload) == value.loadUnaligned(as: UInt32.self).littleEndian else {
                        corrupt = UInt32(index)
                        return false
                    }
                }
                // The map is page-aligned and LMDB pages are OS pages: the value's page starts at the
                // address rounded down, and every page header begins with its own page number.
                let address = UInt(bitPattern: value)
                let pageStart = address - address % UInt(pageSize)
                guard let page = UnsafeRawPointer(bitPattern: pageStart) else { return false }
                let pageNumber = page.loadUnaligned(as: UInt64.self)
                let offset = Int64(pageNumber) * Int64(pageSize) + Int64(address - pageStart) + 4 + Int64(lo)
                let length = hi - lo + 1
                if let previous = segments.last, previous.offset + Int64(previous.count) == offset {
                    segments[segments.count - 1] = .init(offset: previous.offset, count: previous.count + length)
                } else {
                    segments.append(.init(offset: offset, count: length))
                }
            }
            return true
        }
        if let corrupt {
            book.counters.withLock { $0.checksumFailures += 1 }
            writer.enqueue(.deleteChunk(ChunkID(rendition: rendition, generation: generation, index: corrupt)))
        }
        guard complete else {
            env.endRead(txn)
            pinned.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        // Chunks checked for the first time (or written a moment ago and not yet in the index).
        if trusted.contains(false) {
            book.recency.withLock { r in
                for i in 0..<count where !trusted[i] {
                    r.touch(ChunkID(rendition: rendition, generation: generation, index: UInt32(first) + UInt32(i)), verified: true, read: unknown[i])
                }
            }
        }
        return PinnedRange(segments: segments, transaction: ParkedTransaction(txn: txn))
    }

    /// Releases a pin (its snapshot ends at once). Call exactly once per pin.
    public func unpin(_ range: PinnedRange) {
        env.endRead(range.transaction.txn)
        pinned.wrappingSubtract(1, ordering: .relaxed)
    }
}
