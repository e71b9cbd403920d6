import NIOCore
import OggEdgeCore

/// What is known about one rendition before any body byte is read.
public struct RenditionInfo: Sendable, Equatable {
    /// Total length in bytes.
    public var length: Int64
    /// Strong ETag and Last-Modified.
    public var validators: Validators
    /// Duration in seconds from the last granule position, when it could be read.
    public var durationSeconds: Double?
    /// Byte offset just past the first audio page (headers + first audio = playback can start).
    public var playbackOffset: Int64?
    /// Where the bytes come from, as the delivery log reports it.
    public var cacheResult: CacheResult

    /// Creates rendition metadata.
    public init(length: Int64, validators: Validators, durationSeconds: Double?, playbackOffset: Int64?, cacheResult: CacheResult) {
        self.length = length
        self.validators = validators
        self.durationSeconds = durationSeconds
        self.playbackOffset = playbackOffset
        self.cacheResult = cacheResult
    }
}

/// An opened rendition: its metadata and a way to read byte ranges of exactly that version.
///
/// A reader pins one version of the source (an open file descriptor, a cache generation, an
/// encoder) so that a response never mixes bytes of two versions.
public protocol RenditionReader: Sendable {
    /// Metadata of the pinned version.
    var info: RenditionInfo { get }
    /// Reads `range` in pieces of at most `maxChunk` bytes and hands each to `body` in order.
    /// Throws if the source ends early: a response is byte-exact or fails loudly.
    func read(
        _ range: ByteRange,
        maxChunk: Int,
        allocator: ByteBufferAllocator,
        into body: (ByteBuffer) async throws -> Void
    ) async throws
    /// Appends all of `range` to `buffer` (small bodies sent in one write).
    func read(_ range: ByteRange, appendingTo buffer: inout ByteBuffer, allocator: ByteBufferAllocator) async throws
    /// Releases what the reader holds. Called exactly once.
    func close()
    /// Where the bytes actually came from, known once reading is over (a partly cached
    /// rendition can be a `HIT` for one range and a `MISS` for another).
    var outcome: CacheResult { get }
}

extension RenditionReader {
    /// By default, what the metadata said.
    public var outcome: CacheResult { info.cacheResult }

    /// Appends all of `range` to `buffer` through ``read(_:maxChunk:allocator:into:)``.
    /// Sources override this to read straight into the buffer without intermediate copies.
    public func read(_ range: ByteRange, appendingTo buffer: inout ByteBuffer, allocator: ByteBufferAllocator) async throws {
        try await read(range, maxChunk: Int(range.length), allocator: allocator) { chunk in
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
    }
}

/// A rendition a source opened: complete (known length and validators) or still being made.
public enum OpenedRendition: Sendable {
    /// An ordinary object with full HTTP semantics.
    case complete(any RenditionReader)
    /// Being transcoded: length unknown until it ends.
    case live(LiveRendition)
}

/// A place renditions can come from: the chunk cache, `tracks/` files, the transcoder, a parent.
public protocol RenditionSource: Sendable {
    /// Opens `track` if this source can serve it; `nil` if it has nothing for it.
    func open(_ track: TrackPath) async throws(OriginError) -> OpenedRendition?
}

/// The one place that answers "which bytes, from which source": asks each source in order.
public struct RenditionCatalog: Sendable {
    /// Sources in priority order (cache, files, transcoder, parents).
    public let sources: [any RenditionSource]

    /// Creates a catalog over `sources`, asked in order.
    public init(sources: [any RenditionSource]) {
        self.sources = sources
    }

    /// The first source that has `track`, opened; throws ``OriginError/notFound`` when none has.
    public func open(_ track: TrackPath) async throws(OriginError) -> OpenedRendition {
        for source in sources {
            if let opened = try await source.open(track) { return opened }
        }
        throw .notFound
    }
}
