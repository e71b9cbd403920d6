#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCache

extension FillSession {
    /// Queues chunks `indexes` of a file rendition for the cache writer, which reads each from
    /// the file at `path` straight into the page the cache reserves for it. Returns how many were
    /// queued: a chunk the session already loads, holds or has queued is not queued again.
    ///
    /// For the fast lane, which answers misses of files on an event loop from the file itself:
    /// it only needs the chunks stored for later hits, so nothing is read on the loop (a miss used
    /// to copy up to 512 KiB there, about 2 % of the loop's time on the player-like mix). Until the
    /// writer is done, the chunks count as held (``notHeld(_:)``: a request right after is a hit,
    /// as it is for bytes a reader loaded and the writer has yet to commit); a reader of the
    /// general path that needs one meanwhile loads it itself.
    ///
    /// The writer opens the file and checks it against `identity` before reading, so a file
    /// rewritten since never fills the cache under the old version; a chunk it cannot read
    /// (changed, truncated, unreadable) is not stored, and a later miss queues it again.
    @discardableResult
    package func queueFromFile(_ indexes: [Int], path: String, identity: FileIdentity) -> Int {
        guard let meta, meta.isComplete, let store else { return 0 }
        let chunks = indexes.compactMap { index -> (Int, Int)? in
            let count = meta.chunkLength(index)
            return index >= 0 && count > 0 ? (index, count) : nil
        }
        guard chunks.count == indexes.count else { return 0 }
        let counts = Dictionary(uniqueKeysWithValues: chunks)
        let queued = markQueued(chunks.map(\.0))
        for index in queued {
            let count = counts[index] ?? 0
            let id = ChunkID(rendition: key, generation: generation, index: UInt32(index))
            let offset = Int64(index) * Int64(meta.chunkSize)
            store.putChunk(id, count: count, fill: { buffer in
                Self.read(path, identity: identity, offset: offset, into: buffer)
            }, committed: { [self] _ in unmarkQueued(index) })
        }
        return queued.count
    }

    /// Fills `buffer` with the bytes at `offset` of the file at `path` if it still is version
    /// `identity`; false if it is not, or cannot be read whole.
    static func read(_ path: String, identity: FileIdentity, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard FileIdentity.ofDescriptor(fd) == identity else { return false }
        do {
            try preadFully(fd, into: buffer, count: buffer.count, offset: offset)
            return true
        } catch {
            return false
        }
    }
}
