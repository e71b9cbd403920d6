import OggEdgeCache
import OggEdgeCore

/// The same sources and cache a server uses, opened without a server, for `oggedge prewarm`.
/// LMDB serialises writers across processes, so this is safe beside a running node.
public final class OfflinePrewarm: Sendable {
    /// Reads renditions through the cache.
    public let prewarmer: Prewarmer
    let store: ChunkStore?

    /// Opens the cache and sources named by `configuration`.
    public init(configuration: OriginConfiguration) throws {
        let store = configuration.cacheMaxBytes > 0
            ? try ChunkStore(directory: configuration.cacheDirectory, maxBytes: Int(clamping: configuration.cacheMaxBytes))
            : nil
        self.store = store
        let transcoder = try TranscodeSource(
            mediaDirectory: configuration.mediaDirectory,
            renditionsDirectory: configuration.cacheDirectory + "/renditions",
            scheduler: TranscodeScheduler.shared
        )
        self.prewarmer = Prewarmer(catalog: OriginServer.catalog(configuration: configuration, store: store, transcoder: transcoder))
    }

    /// Commits everything queued and closes the cache.
    public func close() {
        store?.close()
    }
}
