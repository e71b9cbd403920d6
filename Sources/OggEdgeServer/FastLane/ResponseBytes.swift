import CPosix
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import OggEdgeCache
import OggEdgeCore
import OggEdgeDelivery

/// What a fast-lane response needs of one complete rendition version, rendered once: the
/// validator and CORS header lines every answer carries, and what the log and the planner need.
final class RenditionHandle {
    /// The request path this handle answers (`/tracks/{id}_{kbps}kbps.ogg`), also the log's path.
    let path: String
    let track: TrackPath
    /// `track.renditionKey`, kept so a lookup builds no string.
    let key: String
    /// The session this handle was rendered from; a different session in the directory means a
    /// different version, and the handle is rendered again.
    let session: FillSession
    let meta: RenditionMeta
    let validators: Validators
    /// `Accept-Ranges`, `ETag`, `Last-Modified`, `X-Content-Duration` and the CORS lines.
    let commonLines: [UInt8]
    /// The rendition's own file (renditions that are files in `tracks/`), opened once and checked
    /// to be the version `meta` was made from: large bodies are sent from it with `sendfile`.
    var originFile: DataFile?
    /// Where that file is and the version it must be (renditions that are files in `tracks/`),
    /// to open it for one answer when the loop keeps too many files open already.
    var origin: (path: String, identity: FileIdentity)?
    /// How long the directory's "complete and fresh" for this version holds without asking again.
    var lease: RenditionDirectory.Lease?

    init(path: String, track: TrackPath, session: FillSession, meta: RenditionMeta) {
        self.path = path
        self.track = track
        self.key = track.renditionKey
        self.session = session
        self.meta = meta
        self.validators = meta.validators
        var text = "Accept-Ranges: bytes\r\n"
        text += "ETag: " + meta.validators.etag.headerValue + "\r\n"
        text += "Last-Modified: " + HTTPDate.format(meta.lastModified) + "\r\n"
        if let millis = meta.durationMillis {
            text += "X-Content-Duration: " + TrackResponder.formatDuration(millis: millis) + "\r\n"
        }
        text += "Access-Control-Allow-Origin: *\r\n"
        text += "Access-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges, ETag, X-Content-Duration\r\n"
        self.commonLines = Array(text.utf8)
    }
}

/// The `Date` header line, rendered once per second.
struct DateLine {
    private var second: Int64 = -1
    private(set) var bytes: [UInt8] = []

    /// The line for `now` (Unix seconds).
    mutating func line(at now: Int64) -> [UInt8] {
        if now != second {
            second = now
            bytes = Array(("Date: " + HTTPDate.format(now) + "\r\n").utf8)
        }
        return bytes
    }
}

/// A file opened read-only for `sendfile`: `data.mdb` (shared by every fast-lane response of a
/// server) or a rendition's own file. Closed when the last response using it is gone (each
/// in-flight response holds it).
final class DataFile: Sendable {
    let handle: NIOFileHandle
    /// The descriptor `handle` owns (valid while this object lives: `deinit` closes it), for the
    /// `fstat` per answer without `NIOFileHandle`'s usage bookkeeping.
    private let fd: CInt
    /// The version this file was opened as (nil for `data.mdb`).
    let identity: FileIdentity?

    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
        self.fd = fd
        identity = nil
    }

    /// `path` opened read-only if it still is the version `identity` names (nil otherwise).
    init?(path: String, identity: FileIdentity) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard FileIdentity.ofDescriptor(fd) == identity else {
            close(fd)
            return nil
        }
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
        self.fd = fd
        self.identity = identity
    }

    /// True while the open file still is the version it was opened as (an `fstat`): a file
    /// rewritten in place (same inode, new size or time) is never sent under the old headers.
    var isUnchanged: Bool {
        guard let identity else { return true }
        return FileIdentity.ofDescriptor(fd) == identity
    }

    /// Reads `count` bytes at `offset` into `memory` if they are in the page cache (never waits
    /// for the disk); the bytes read, or -1.
    func readResident(into memory: UnsafeMutableRawPointer, count: Int, offset: Int64) -> Int {
        oggedge_pread_resident(fd, memory, count, off_t(offset))
    }

    /// False when a page of `count` bytes at `offset` is known not to be in the page cache
    /// (`cachestat(2)`): `sendfile` would then read the disk on the event loop. True when every
    /// page is there, or where the kernel cannot tell.
    func isResident(offset: Int64, count: Int) -> Bool {
        oggedge_range_resident(fd, off_t(offset), count) != 0
    }

    /// Starts reading `count` bytes at `offset` into the page cache without waiting for them.
    func prefetch(offset: Int64, count: Int) {
        _ = oggedge_prefetch(fd, off_t(offset), count)
    }

    deinit {
        if let fd = try? handle.takeDescriptorOwnership() { close(fd) }
    }
}
