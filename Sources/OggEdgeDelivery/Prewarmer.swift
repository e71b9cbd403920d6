import NIOCore
import OggEdgeCache
import OggEdgeCore

/// Fills the cache ahead of demand: every chunk of a rendition, or with `headsOnly` just the
/// first chunks and the last one (what a player needs to start and to read the duration).
/// It goes through the same ``RenditionDirectory`` and fill sessions as a request.
package struct Prewarmer: Sendable {
    let directory: RenditionDirectory
    /// Bytes stored from the start of a rendition in `headsOnly` mode.
    package static let headBytes: Int64 = 128 * 1024

    /// A prewarmer over `directory`.
    package init(directory: RenditionDirectory) {
        self.directory = directory
    }

    /// The outcome for one rendition.
    package struct Outcome: Sendable {
        /// `trackId_kbps`.
        package var rendition: String
        /// Bytes read through the cache.
        package var bytes: Int64 = 0
        /// Where they came from.
        package var cache: CacheResult = .miss
        /// Why it failed, if it did.
        package var error: String?
    }

    /// Reads `track` through the directory so every source fills the cache the usual way.
    package func warm(_ track: TrackPath, headsOnly: Bool) async -> Outcome {
        var outcome = Outcome(rendition: track.renditionKey)
        let attachment: Attachment
        do throws(DeliveryError) {
            attachment = try await directory.attach(track)
        } catch {
            switch error {
            case .notFound: outcome.error = "not_found"
            case .badSource(let reason), .unavailable(let reason), .upstream(let reason, _): outcome.error = reason
            }
            return outcome
        }
        let session = attachment.session
        if session.isSequential {
            // An encode: the shared encoder pool writes every chunk; wait for it to end.
            let (_, phase) = await session.wait(forProduced: .max, timeout: .seconds(3600))
            switch phase {
            case .failed(let reason): outcome.error = reason; return outcome
            case .producing: outcome.error = "transcode_timeout"; return outcome
            case .complete(let length):
                outcome.bytes = length
                outcome.cache = attachment.outcome
                if attachment.outcome != .hit { return outcome }
            }
        }
        let reader = RenditionReader(attachment, store: directory.store, wait: .seconds(60))
        defer { reader.close() }
        guard let length = session.meta?.length, length > 0 else { return outcome }
        var ranges = [ByteRange(start: 0, end: length - 1)]
        if headsOnly {
            let head = ByteRange(start: 0, end: min(length, Self.headBytes) - 1)
            let tailStart = max(head.end + 1, length - 64 * 1024)
            ranges = tailStart < length ? [head, ByteRange(start: tailStart, end: length - 1)] : [head]
        }
        let allocator = ByteBufferAllocator()
        outcome.bytes = 0
        do {
            for range in ranges {
                try await reader.read(range, maxChunk: 256 * 1024, allocator: allocator) { chunk in
                    outcome.bytes += Int64(chunk.readableBytes)
                }
            }
            outcome.cache = reader.outcome
        } catch {
            outcome.error = "read_failed"
        }
        return outcome
    }
}
