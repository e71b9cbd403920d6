#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCache

extension FillSession {
    /// Why ``offerResident(_:from:identity:)`` offered nothing.
    package enum ResidentRefusal: Error, Equatable {
        /// A chunk's bytes are not all in the page cache: reading them would wait for the disk.
        case notResident
        /// The file ended early, a read failed, or the kernel cannot read without waiting.
        case unreadable
        /// The open file no longer is the version the session's metadata was made from.
        case changed
    }

    /// Loads chunks `indexes` of a file rendition from `fd` (that rendition's file, open) without
    /// ever waiting for a disk, and offers each to the session as a reader's load would be:
    /// held for other readers and committed to the cache (``provide(_:_:)``).
    ///
    /// For the fast lane, which answers on an event loop: each read is `preadv2` with
    /// `RWF_NOWAIT`, so a chunk not wholly in the page cache fails the call (the general path
    /// then loads it on the blocking pool). The file is checked against `identity` after the
    /// reads, so a rewritten file never fills the cache under the old version. All or nothing:
    /// on any refusal no chunk is offered. A chunk the session already loads or holds (its
    /// commit still to come) is not read again.
    package func offerResident(_ indexes: [Int], from fd: Int32, identity: FileIdentity) throws(ResidentRefusal) {
        guard let meta, meta.isComplete else { throw .unreadable }
        let wanted = notPending(indexes)
        var chunks: [(Int, [UInt8])] = []
        chunks.reserveCapacity(wanted.count)
        for index in wanted {
            let count = meta.chunkLength(index)
            guard index >= 0, count > 0 else { throw .unreadable }
            chunks.append((index, try Self.readResident(fd, count: count, offset: Int64(index) * Int64(meta.chunkSize))))
        }
        guard FileIdentity.ofDescriptor(fd) == identity else { throw .changed }
        for (index, bytes) in chunks { _ = provide(index, bytes) }
    }

    /// Exactly `count` bytes at `offset`, read only from the page cache.
    private static func readResident(_ fd: Int32, count: Int, offset: Int64) throws(ResidentRefusal) -> [UInt8] {
        do {
            return try preadFully(fd, count: count, offset: offset, inMemoryOnly: true)
        } catch .io(errno: EAGAIN) {
            throw .notResident
        } catch {
            throw .unreadable
        }
    }
}
