#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Records read from the spool, from the committed position up to `end`.
struct SpoolBatch {
    var records: [SpoolRecord] = []
    /// Position right after each record (same order as `records`).
    var ends: [SpoolPosition] = []
    /// Bytes in front of `end` that were skipped as corrupt (already excluded from `records`).
    var corruptBytes: Int64 = 0
    var start: SpoolPosition
    var end: SpoolPosition
}

/// Reads unacknowledged records in order and moves the committed position forward.
/// Confined to the sender thread (created and used only there): not thread-safe.
final class SpoolReader {
    private let directory: String
    private var descriptor: Int32 = -1
    private var openSegment: UInt64 = 0
    /// The first byte Redis has not acknowledged (mirrors the commit file).
    private(set) var committed: SpoolPosition
    private(set) var lastCommittedID: StreamID?
    private static let readChunk = SpoolCodec.maxPayloadBytes + 4096

    init(directory: String, start: SpoolPosition, lastID: StreamID?) {
        self.directory = directory
        self.committed = start
        self.lastCommittedID = lastID
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Reads up to `maxRecords` records after the committed position, never past `written` (the end
    /// of what the writer has completely written). Finished segments are committed past and deleted
    /// on the way. Returns nil when there is nothing to send.
    func readBatch(written: SpoolPosition, maxRecords: Int) throws(RedisConfigError) -> SpoolBatch? {
        while true {
            guard committed.segment <= written.segment else { return nil }
            let path = SpoolFiles.segmentPath(directory, committed.segment)
            let limit = committed.segment == written.segment ? written.offset : (SpoolFiles.fileSize(path) ?? 0)
            if committed.offset >= limit {
                guard committed.segment < written.segment else { return nil }
                // This segment is complete and fully acknowledged: move on and delete it.
                if descriptor >= 0 { close(descriptor); descriptor = -1 }
                try commit(SpoolPosition(segment: committed.segment + 1, offset: 0), lastID: lastCommittedID)
                unlink(path)
                continue
            }
            if descriptor < 0 || openSegment != committed.segment {
                if descriptor >= 0 { close(descriptor) }
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw RedisConfigError("cannot open \(path): \(String(cString: strerror(errno)))")
                }
                openSegment = committed.segment
            }
            let wanted = Int(min(limit - committed.offset, Int64(Self.readChunk)))
            var buffer = [UInt8](repeating: 0, count: wanted)
            var got = 0
            while got < wanted {
                let result = buffer.withUnsafeMutableBytes { raw in
                    pread(descriptor, raw.baseAddress! + got, wanted - got, off_t(committed.offset) + off_t(got))
                }
                if result < 0 && errno == EINTR { continue }
                if result < 0 { throw RedisConfigError("cannot read \(path): \(String(cString: strerror(errno)))") }
                if result == 0 { break }
                got += result
            }
            var batch = SpoolBatch(start: committed, end: committed)
            var offset = 0
            buffer.withUnsafeBytes { raw in
                while offset < got, batch.records.count < maxRecords {
                    switch SpoolCodec.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<got])) {
                    case .record(let record, let length):
                        offset += length
                        batch.end.offset = committed.offset + Int64(offset)
                        batch.records.append(record)
                        batch.ends.append(batch.end)
                    case .incomplete, .corrupt:
                        return
                    }
                }
            }
            if batch.records.isEmpty {
                // Nothing decodable where whole records must be: disk corruption. Skip to the limit
                // (a record boundary: the writer only ever appends whole records).
                batch.corruptBytes = limit - committed.offset
                batch.end.offset = limit
            }
            return batch
        }
    }

    /// Persists a new committed position (after Redis acknowledged everything before it).
    func commit(_ position: SpoolPosition, lastID: StreamID?) throws(RedisConfigError) {
        try SpoolFiles.writeCommit(directory, position, lastID: lastID)
        committed = position
        lastCommittedID = lastID
    }
}
