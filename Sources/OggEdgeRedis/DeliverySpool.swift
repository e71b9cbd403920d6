import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte position in the spool: segment number and offset inside that segment file.
struct SpoolPosition: Sendable, Equatable, Comparable, CustomStringConvertible {
    var segment: UInt64
    var offset: Int64

    static func < (lhs: SpoolPosition, rhs: SpoolPosition) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    var description: String { "\(segment):\(offset)" }
}

/// What a spool directory holds when a shipper starts.
struct SpoolRecovery: Sendable {
    /// First byte not yet acknowledged by Redis.
    var readStart: SpoolPosition
    /// The writer starts a fresh segment with this number.
    var writerSegment: UInt64
    /// Bytes of records from `readStart` to the end of the spool.
    var unsentBytes: Int64
    /// Highest id found in the spool or in the commit file: new ids must be greater.
    var lastID: StreamID?
    /// Bytes cut off the end of the last segment (a record torn by a crash).
    var truncatedBytes: Int64
}

/// File layout of a spool directory:
///
/// - `NNNNNNNNNNNNNNNNNNNN.seg`: append-only segments of records (see `SpoolCodec`), numbered upwards;
///   a new segment starts at every shipper start and when the current one reaches its size limit.
/// - `committed`: one line `v1 SEGMENT OFFSET LASTID`, the first byte Redis has not acknowledged, and the
///   id of the last acknowledged record. Replaced atomically (write `committed.tmp`, rename) after each
///   acknowledged batch. Segments entirely before it are deleted.
enum SpoolFiles {
    static let commitName = "committed"

    static func segmentPath(_ directory: String, _ segment: UInt64) -> String {
        let digits = String(segment)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    static func listSegments(_ directory: String) throws -> [UInt64] {
        try FileManager.default.contentsOfDirectory(atPath: directory).compactMap { name -> UInt64? in
            guard name.hasSuffix(".seg") else { return nil }
            return UInt64(name.dropLast(4))
        }.sorted()
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func readCommit(_ directory: String) -> (position: SpoolPosition, lastID: StreamID?)? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + commitName) else { return nil }
        return parseCommit(data)
    }

    /// The position and last id of a commit file's bytes (`v1 SEGMENT OFFSET ID|-`), nil if malformed.
    static func parseCommit(_ data: Data) -> (position: SpoolPosition, lastID: StreamID?)? {
        guard let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 4, parts[0] == "v1", let segment = UInt64(parts[1]), let offset = Int64(parts[2]),
              offset >= 0 else { return nil }
        return (SpoolPosition(segment: segment, offset: offset), parts[3] == "-" ? nil : StreamID(parts[3]))
    }

    /// Replaces the commit file atomically. Not fsynced: after an OS crash it may be older than what
    /// Redis holds, which only makes the shipper resend records Redis then rejects as duplicates.
    static func writeCommit(_ directory: String, _ position: SpoolPosition, lastID: StreamID?) throws(RedisConfigError) {
        let line = "v1 \(position.segment) \(position.offset) \(lastID?.description ?? "-")\n"
        let temporary = directory + "/" + commitName + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(line.utf8)) else {
            throw RedisConfigError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, directory + "/" + commitName) == 0 else {
            throw RedisConfigError("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    /// Scans a segment: the end of its last valid record and the id of that record.
    static func scan(_ path: String) -> (validEnd: Int64, lastID: StreamID?) {
        guard let data = FileManager.default.contents(atPath: path) else { return (0, nil) }
        return data.withUnsafeBytes { scan(bytes: $0) }
    }

    /// Scans a segment's bytes: the end of its last valid record and the id of that record.
    static func scan(bytes raw: UnsafeRawBufferPointer) -> (validEnd: Int64, lastID: StreamID?) {
        var offset = 0
        var lastID: StreamID?
        while offset < raw.count {
            guard case .record(let record, let length) = SpoolCodec.decode(UnsafeRawBufferPointer(rebasing: raw[offset...])) else { break }
            lastID = record.id
            offset += length
        }
        return (Int64(offset), lastID)
    }

    /// Opens a spool directory (creating it), cuts a torn tail off the last segment and works out
    /// where sending resumes and which id comes next.
    /// Call with the directory lock held (see `SpoolDirectoryLock`).
    static func recover(_ directory: String) throws -> SpoolRecovery {
        let commit = readCommit(directory)
        var segments = try listSegments(directory)
        var start = commit?.position ?? SpoolPosition(segment: segments.first ?? 1, offset: 0)
        for segment in segments where segment < start.segment {
            unlink(segmentPath(directory, segment))
        }
        segments.removeAll { $0 < start.segment }
        if segments.first != start.segment {
            start = SpoolPosition(segment: segments.first ?? start.segment, offset: 0)
        }

        var lastID = commit?.lastID
        var truncated: Int64 = 0
        for segment in segments.reversed() {
            let path = segmentPath(directory, segment)
            let (validEnd, segmentLastID) = scan(path)
            if segment == segments.last, let size = fileSize(path), size > validEnd {
                truncated = size - validEnd
                truncate(path, off_t(validEnd))
            }
            if let segmentLastID {
                lastID = max(lastID ?? segmentLastID, segmentLastID)
                break
            }
        }
        var unsent: Int64 = 0
        for segment in segments { unsent += fileSize(segmentPath(directory, segment)) ?? 0 }
        unsent = max(0, unsent - start.offset)
        let writerSegment = max(segments.last ?? 0, start.segment) + 1
        return SpoolRecovery(readStart: start, writerSegment: writerSegment, unsentBytes: unsent,
                             lastID: lastID, truncatedBytes: truncated)
    }
}

/// An exclusive `flock` on `DIR/lock`, held for the life of a shipper, so that two shippers (two
/// processes, e.g. an old and a new instance overlapping during a restart) never write one spool.
final class SpoolDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Creates the directory if needed and takes the lock, or throws if another shipper holds it.
    init(_ directory: String) throws(RedisConfigError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RedisConfigError("cannot create spool directory \(directory): \(error)")
        }
        guard access(directory, R_OK | W_OK | X_OK) == 0 else {
            throw RedisConfigError("spool directory \(directory) is not writable")
        }
        let path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RedisConfigError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw RedisConfigError("spool directory \(directory) is in use by another delivery-log shipper")
        }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

/// Appends encoded records to the current segment, rotating at `segmentMaxBytes`, and fsyncs
/// each append. Used only by the flusher (and, after shutdown, by `enqueue`), serialised by the
/// caller's lock: not thread-safe on its own.
final class SpoolWriter {
    private let directory: String
    private let segmentMaxBytes: Int64
    private var descriptor: Int32 = -1
    /// The end of the last completely written record.
    private(set) var position: SpoolPosition

    init(directory: String, segment: UInt64, segmentMaxBytes: Int64) {
        self.directory = directory
        self.segmentMaxBytes = segmentMaxBytes
        self.position = SpoolPosition(segment: segment, offset: 0)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Writes whole records and fsyncs. On failure the segment is cut back to the last whole record.
    func append(_ bytes: [UInt8]) throws(RedisConfigError) {
        guard !bytes.isEmpty else { return }
        if position.offset >= segmentMaxBytes {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
            position = SpoolPosition(segment: position.segment + 1, offset: 0)
        }
        let path = SpoolFiles.segmentPath(directory, position.segment)
        if descriptor < 0 {
            descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw RedisConfigError("cannot open \(path): \(String(cString: strerror(errno)))") }
            let dir = open(directory, O_RDONLY | O_CLOEXEC)
            if dir >= 0 { fsync(dir); close(dir) }
        }
        var written = 0
        let failure: Int32? = bytes.withUnsafeBytes { raw -> Int32? in
            while written < raw.count {
                let result = write(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return fsync(descriptor) == 0 ? nil : errno
        }
        if let failure {
            _ = ftruncate(descriptor, off_t(position.offset))
            throw RedisConfigError("cannot append to \(path): \(String(cString: strerror(failure)))")
        }
        position.offset += Int64(bytes.count)
    }
}
