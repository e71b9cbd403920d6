import NIOCore
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// Misses of renditions that are files in `tracks/`: answered by the lane from the file, the
/// missing chunks queued with the rendition's fill session for the cache writer to read from the file.
extension FastLane {
    /// The file to answer a miss of `handle` from: the one its handle keeps open, else (past
    /// ``FastLaneShared/maxOriginFiles``) the rendition's file opened for this answer and checked to be the
    /// version the handle was made from; nil for renditions that are not files.
    func originForMiss(_ handle: RenditionHandle) -> DataFile? {
        if let open = handle.originFile { return open }
        guard let origin = handle.origin else { return nil }
        return DataFile(path: origin.path, identity: origin.identity)
    }

    /// Most chunks one fast answer queues for the cache (512 KiB): a larger miss streams on the
    /// general path, off the event loop.
    static let maxChunksFilled = 8

    /// Whether the cache holds every chunk of `body` (true: a hit). If not, the missing chunks
    /// are queued with the rendition's fill session for the cache writer, which reads them from
    /// `origin`'s file itself, off the loop (false: a miss, and the bytes are the file's). Nil
    /// when the lane cannot answer it: more than ``maxChunksFilled`` missing, a corrupt chunk, or
    /// a file whose version is unknown.
    ///
    /// When every chunk of the range's first part is cached, its first `runt.wanted` bytes are
    /// copied into `runt` on the way (`runt.copied` tells how many; 0 when they were not).
    func cachedOrOffered(_ handle: RenditionHandle, _ body: ByteRange, origin: DataFile, runt: inout RuntCopy) -> Bool? {
        let meta = handle.meta
        let size = Int64(meta.chunkSize)
        var missing: [Int] = []
        var from = body.start
        while from <= body.end {  // `withRange` and `presence` look at most 64 chunks at a time
            let to = min(body.end, (from / size + 64) * size - 1)
            if !shared.store.withRange(
                rendition: handle.key, generation: meta.generation, chunkSize: meta.chunkSize, start: from, end: to, { piece in
                    runt.take(piece)
                }
            ) {
                runt.copied = 0
                let first = Int(from / size)
                let count = Int(to / size) - first + 1
                let held = shared.store.presence(rendition: handle.key, generation: meta.generation, first: first, count: count)
                let before = missing.count
                for i in 0..<count where held & (1 << UInt64(i)) == 0 { missing.append(first + i) }
                // Every chunk there, yet not readable: a corrupt one (its deletion is queued).
                guard missing.count > before, missing.count <= Self.maxChunksFilled else { return nil }
            }
            from = to + 1
        }
        // Chunks loaded a moment ago and waiting for the writer are a hit, as on the general
        // path (which reads them from the session): a request right after a fill or a prewarm.
        if !missing.isEmpty { missing = handle.session.notHeld(missing) }
        if missing.isEmpty { return true }
        // The cache writer is behind: the answer comes from the file anyway, and the fill waits
        // for a later miss (memory does not pile up with chunks waiting for the writer).
        if shared.store.isWriteBacklogged { return false }
        guard let identity = origin.identity, let path = handle.origin?.path else { return nil }
        handle.session.queueFromFile(missing, path: path, identity: identity)
        return false
    }
}

/// The first bytes of a body, copied from the chunk cache while the lane checks that the cache
/// holds them, for ``FastLane``'s `carryRunt` (which otherwise reads them from the file).
struct RuntCopy {
    /// Room for ``FastLane/maxCarried`` bytes, for the lane's lifetime.
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: FastLane.maxCarried, alignment: 8)
    /// How many bytes the current answer wants copied.
    var wanted = 0
    /// How many are copied so far.
    var copied = 0

    /// Copies what is still wanted of the next piece of the body.
    mutating func take(_ piece: UnsafeRawBufferPointer) {
        let count = min(wanted - copied, piece.count)
        guard count > 0 else { return }
        (bytes.baseAddress! + copied).copyMemory(from: piece.baseAddress!, byteCount: count)
        copied += count
    }
}
