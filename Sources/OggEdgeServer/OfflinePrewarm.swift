import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// The same directory and cache a server uses, opened without a server, for `oggedge prewarm`.
/// LMDB serialises writers across processes, so this is safe beside a running node.
public final class OfflinePrewarm: Sendable {
    let prewarmer: Prewarmer
    let store: ChunkStore?

    /// Opens the cache and media named by `configuration`.
    public init(configuration: OriginConfiguration) throws {
        let store = configuration.cacheMaxBytes > 0
            ? try ChunkStore(directory: configuration.cacheDirectory, maxBytes: Int(clamping: configuration.cacheMaxBytes))
            : nil
        self.store = store
        self.prewarmer = Prewarmer(directory: RenditionDirectory(mediaDirectory: configuration.mediaDirectory, store: store))
    }

    /// What warming one rendition did.
    public struct Outcome: Sendable {
        /// `trackId_kbps`.
        public var rendition: String
        /// Bytes read through the cache.
        public var bytes: Int64
        /// Where they came from.
        public var cache: CacheResult
        /// Why it failed, if it did.
        public var error: String?
    }

    /// Fills the cache with `track` (or only its first and last bytes).
    public func warm(_ track: TrackPath, headsOnly: Bool) async -> Outcome {
        let o = await prewarmer.warm(track, headsOnly: headsOnly)
        return Outcome(rendition: o.rendition, bytes: o.bytes, cache: o.cache, error: o.error)
    }

    /// Commits everything queued and closes the cache.
    public func close() {
        store?.close()
    }
}
