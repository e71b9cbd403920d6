/// Where a cached rendition's bytes came from: the identity of one version of its source.
/// A different identity means a different version, and the cached bytes are stale.
public struct SourceIdentity: Sendable, Equatable, Hashable {
    /// Source size in bytes.
    public var size: Int64
    /// Source mtime in nanoseconds.
    public var mtimeNanos: Int64
    /// Source inode (changes when a file is replaced by rename).
    public var inode: UInt64
    /// Source device.
    public var device: UInt64

    /// Creates an identity.
    public init(size: Int64, mtimeNanos: Int64, inode: UInt64, device: UInt64) {
        self.size = size
        self.mtimeNanos = mtimeNanos
        self.inode = inode
        self.device = device
    }
}

/// What produces a rendition's bytes, and so what a lost chunk can be refilled from.
public enum OriginKind: UInt8, Sendable, Equatable {
    /// A file in `tracks/`: any chunk can be read again (random access).
    case file = 0
    /// Encoded from a master or another rendition: bytes come out in order only, so a rendition
    /// that lost a chunk is encoded again as a whole.
    case transcode = 1
    /// Pulled from a parent tier.
    case upstream = 2
}

/// The metadata record of one cached rendition.
///
/// Chunks are keyed by (rendition, generation, index); a new source version gets a new
/// generation, so chunks of two versions can never be mixed in one response.
///
/// A record is keyed by what identifies its bytes: length and validators, plus the identity of
/// the source version they were made from. A record whose `isComplete` is false belongs to a
/// fill still under way (its chunks are being written); after a crash it is treated as absent.
public struct RenditionMeta: Sendable, Equatable {
    /// Bumped whenever the source version changes.
    public var generation: UInt32
    /// Bytes per chunk (the last chunk may be shorter).
    public var chunkSize: Int
    /// Representation length.
    public var length: Int64
    /// Strong ETag without quotes.
    public var etag: String
    /// Last-Modified, Unix seconds.
    public var lastModified: Int64
    /// Duration in milliseconds, if known.
    public var durationMillis: Int64?
    /// Offset past the first audio page, if known.
    public var playbackOffset: Int64?
    /// The source version these chunks were read from.
    public var source: SourceIdentity
    /// What produces the bytes.
    public var kind: OriginKind
    /// False while the fill that writes this generation is still under way (length unknown).
    public var isComplete: Bool

    /// Creates a record.
    public init(
        generation: UInt32, chunkSize: Int, length: Int64, etag: String, lastModified: Int64,
        durationMillis: Int64?, playbackOffset: Int64?, source: SourceIdentity,
        kind: OriginKind = .file, isComplete: Bool = true
    ) {
        self.kind = kind
        self.isComplete = isComplete
        self.generation = generation
        self.chunkSize = chunkSize
        self.length = length
        self.etag = etag
        self.lastModified = lastModified
        self.durationMillis = durationMillis
        self.playbackOffset = playbackOffset
        self.source = source
    }

    /// Number of chunks the representation splits into.
    public var chunkCount: Int {
        length == 0 ? 0 : Int((length + Int64(chunkSize) - 1) / Int64(chunkSize))
    }

    /// Length of chunk `index`.
    public func chunkLength(_ index: Int) -> Int {
        let start = Int64(index) * Int64(chunkSize)
        return Int(min(Int64(chunkSize), length - start))
    }

    static let magic: [UInt8] = Array("OEM2".utf8)

    /// Binary encoding (little-endian, versioned by a magic prefix).
    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(96 + etag.utf8.count)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(generation)
        put(UInt32(chunkSize))
        put(length)
        put(lastModified)
        put(durationMillis ?? -1)
        put(playbackOffset ?? -1)
        put(source.size)
        put(source.mtimeNanos)
        put(source.inode)
        put(source.device)
        out.append(kind.rawValue)
        out.append(isComplete ? 1 : 0)
        let tag = Array(etag.utf8.prefix(255))
        out.append(UInt8(tag.count))
        out.append(contentsOf: tag)
        return out
    }

    /// Decodes a record; `nil` for anything malformed (treated as absent and rewritten).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> RenditionMeta? {
        guard bytes.count >= 4 + 4 + 4 + 8 * 8 + 3, bytes.prefix(4).elementsEqual(magic) else { return nil }
        var offset = 4
        func take<T: FixedWidthInteger>(_: T.Type) -> T {
            var v: T = 0
            withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + MemoryLayout<T>.size)])) }
            offset += MemoryLayout<T>.size
            return T(littleEndian: v)
        }
        let generation = take(UInt32.self)
        let chunkSize = Int(take(UInt32.self))
        let length = take(Int64.self)
        let lastModified = take(Int64.self)
        let duration = take(Int64.self)
        let playback = take(Int64.self)
        let source = SourceIdentity(size: take(Int64.self), mtimeNanos: take(Int64.self), inode: take(UInt64.self), device: take(UInt64.self))
        guard let kind = OriginKind(rawValue: bytes[offset]) else { return nil }
        let isComplete = bytes[offset + 1] == 1
        offset += 2
        let tagLength = Int(bytes[offset])
        offset += 1
        guard chunkSize > 0, length >= 0, bytes.count == offset + tagLength else { return nil }
        let etag = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + tagLength)]), as: UTF8.self)
        return RenditionMeta(
            generation: generation, chunkSize: chunkSize, length: length, etag: etag, lastModified: lastModified,
            durationMillis: duration >= 0 ? duration : nil, playbackOffset: playback >= 0 ? playback : nil, source: source,
            kind: kind, isComplete: isComplete
        )
    }
}

/// Identifies one chunk of one version of a rendition.
public struct ChunkID: Hashable, Sendable {
    /// Rendition key, e.g. `demo_160kbps`.
    public let rendition: String
    /// Generation of the rendition's metadata.
    public let generation: UInt32
    /// Chunk index.
    public let index: UInt32

    /// Creates a chunk id.
    public init(rendition: String, generation: UInt32, index: UInt32) {
        self.rendition = rendition
        self.generation = generation
        self.index = index
    }

    /// The LMDB key: rendition bytes, 0, generation and index big-endian (so a rendition's
    /// chunks sort together and a prefix delete removes them all).
    var key: [UInt8] {
        var k = Self.prefix(rendition)
        k.reserveCapacity(k.count + 8)
        withUnsafeBytes(of: generation.bigEndian) { k.append(contentsOf: $0) }
        withUnsafeBytes(of: index.bigEndian) { k.append(contentsOf: $0) }
        return k
    }

    /// Builds the LMDB key of `rendition`'s chunks of `generation` in temporary storage and lends
    /// it to `body` with a function that sets its index in place (no array per lookup).
    static func withKey<T>(
        rendition: String, generation: UInt32,
        _ body: (UnsafeMutableRawBufferPointer, (UInt32) -> Void) throws -> T
    ) rethrows -> T {
        let nameCount = rendition.utf8.count
        return try withUnsafeTemporaryAllocation(byteCount: nameCount + 9, alignment: 1) { key in
            var i = 0
            for byte in rendition.utf8 { key[i] = byte; i += 1 }
            key[nameCount] = 0
            withUnsafeBytes(of: generation.bigEndian) { g in for j in 0..<4 { key[nameCount + 1 + j] = g[j] } }
            return try body(key) { index in
                withUnsafeBytes(of: index.bigEndian) { b in for j in 0..<4 { key[nameCount + 5 + j] = b[j] } }
            }
        }
    }

    /// The key prefix of every chunk of `rendition`.
    static func prefix(_ rendition: String) -> [UInt8] {
        Array(rendition.utf8) + [0]
    }

    /// Parses a chunk key.
    init?(key: UnsafeRawBufferPointer) {
        guard key.count > 9, let zero = key.firstIndex(of: 0), key.count - zero == 9 else { return nil }
        rendition = String(decoding: UnsafeRawBufferPointer(rebasing: key[..<zero]), as: UTF8.self)
        var g: UInt32 = 0
        var i: UInt32 = 0
        for b in key[(zero + 1)..<(zero + 5)] { g = g << 8 | UInt32(b) }
        for b in key[(zero + 5)..<(zero + 9)] { i = i << 8 | UInt32(b) }
        generation = g
        index = i
    }
}
