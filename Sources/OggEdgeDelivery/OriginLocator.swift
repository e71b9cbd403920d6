#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OggEdgeCache
import OggEdgeCore
import OggEdgeTranscoder

/// The identity of one version of a file: a different identity is a different version.
package struct FileIdentity: Hashable, Sendable {
    package let device: UInt64
    package let inode: UInt64
    package let size: Int64
    package let mtimeNanos: Int64

    /// `stat(2)` of a regular file at `path`; `nil` if there is none (or it is not a regular file).
    package static func ofPath(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileIdentity(st)
    }

    /// `fstat(2)` of an open descriptor.
    package static func ofDescriptor(_ fd: Int32) -> FileIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileIdentity(st)
    }

    private init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeNanos = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    /// As the cache records it.
    package var source: SourceIdentity {
        SourceIdentity(size: size, mtimeNanos: mtimeNanos, inode: inode, device: device)
    }

    /// A strong ETag that changes whenever the file is rewritten or replaced.
    package var entityTag: EntityTag {
        EntityTag(opaque: String(size, radix: 16) + "-" + String(UInt64(bitPattern: mtimeNanos), radix: 16) + "-" + String(inode, radix: 16))
    }

    /// Modification time in whole seconds (Last-Modified).
    package var mtimeSeconds: Int64 { mtimeNanos / 1_000_000_000 }
}

/// Where the bytes of a rendition would come from right now, in the contract's order: a file in
/// `tracks/`, else a transcode of the master, else of the highest-bitrate rendition present.
package enum Origin: Sendable, Equatable {
    /// `MEDIA/tracks/{trackId}_{kbps}kbps.ogg`.
    case file(path: String, identity: FileIdentity)
    /// Encoded from `path` (a WAV master or another rendition).
    case transcode(path: String, kind: TranscodeSourceKind, identity: FileIdentity)
    /// Pulled from a parent tier, slice by slice (nothing local can build it).
    case upstream(UpstreamPull)

    /// What the cache records as the producer's kind.
    package var kind: OriginKind {
        switch self {
        case .file: .file
        case .transcode: .transcode
        case .upstream: .upstream
        }
    }

    /// The identity of the local source version (`nil` for a parent's).
    package var identity: FileIdentity? {
        switch self {
        case .file(_, let identity), .transcode(_, _, let identity): identity
        case .upstream: nil
        }
    }

    /// Whether `meta` was made from this origin (same kind, same source version).
    package func produced(_ meta: RenditionMeta) -> Bool {
        switch self {
        case .file(_, let identity), .transcode(_, _, let identity): meta.kind == kind && meta.source == identity.source
        case .upstream(let pull): meta.kind == .upstream && meta.etag == pull.facts.etag && meta.length == pull.facts.length
        }
    }
}

/// Finds the ``Origin`` of a rendition with a few `stat(2)` calls (never opens a file).
package struct OriginLocator: Sendable {
    /// `MEDIA/` with a trailing slash.
    package let mediaDirectory: String

    /// A locator over `mediaDirectory` (`tracks/` and `masters/` inside it).
    package init(mediaDirectory: String) {
        self.mediaDirectory = mediaDirectory.hasSuffix("/") ? mediaDirectory : mediaDirectory + "/"
    }

    /// The origin of `track` now; `nil` when nothing can build it.
    package func locate(_ track: TrackPath) -> Origin? {
        let file = mediaDirectory + "tracks/" + track.fileName
        if let identity = FileIdentity.ofPath(file) { return .file(path: file, identity: identity) }
        let master = mediaDirectory + "masters/" + track.trackId + ".wav"
        if let identity = FileIdentity.ofPath(master) { return .transcode(path: master, kind: .wavMaster, identity: identity) }
        for kbps in TrackPath.supportedBitrates.sorted(by: >) where kbps != track.kbps {
            let path = mediaDirectory + "tracks/" + track.trackId + "_\(kbps)kbps.ogg"
            if let identity = FileIdentity.ofPath(path) { return .transcode(path: path, kind: .oggRendition, identity: identity) }
        }
        return nil
    }
}
