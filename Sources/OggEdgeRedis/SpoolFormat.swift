/// A Redis stream entry id `<ms>-<seq>`, assigned to a record when it is enqueued.
struct StreamID: Sendable, Hashable, Comparable, CustomStringConvertible {
    var milliseconds: UInt64
    var sequence: UInt64

    init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses `<ms>-<seq>` (both decimal).
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        self.init(milliseconds: ms, sequence: seq)
    }

    var description: String { "\(milliseconds)-\(sequence)" }

    static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}

/// Hands out strictly increasing ids: the wall clock in ms when it moved forward, otherwise the last
/// ms with the next sequence number (so a clock step backwards never produces a smaller id).
struct StreamIDGenerator: Sendable {
    private(set) var last: StreamID?

    init(after last: StreamID?) {
        self.last = last
    }

    mutating func next(nowMilliseconds: UInt64) -> StreamID {
        let now = max(nowMilliseconds, 1) // Redis refuses 0-0
        let id: StreamID
        if let last, now <= last.milliseconds {
            id = StreamID(milliseconds: last.milliseconds, sequence: last.sequence + 1)
        } else {
            id = StreamID(milliseconds: now, sequence: 0)
        }
        last = id
        return id
    }
}

/// One spooled record: its stream id and its ordered field/value pairs.
struct SpoolRecord: Sendable {
    var id: StreamID
    var fields: [(String, String)]
}

/// On-disk framing of one record (all integers little-endian):
///
///     u32 payloadLength | u32 fnv1a32(payload) | payload
///     payload = u32 stringCount | (u32 length | UTF-8 bytes) * stringCount
///     strings = [id, field1, value1, field2, value2, ...]
///
/// The checksum detects a torn tail after a crash (a partially written last record).
enum SpoolCodec {
    static let headerBytes = 8
    /// Records larger than this are refused at enqueue (and never read back).
    static let maxPayloadBytes = 1 << 20

    static func encodedSize(id: StreamID, fields: [(String, String)]) -> Int {
        var size = headerBytes + 4 + 4 + id.description.utf8.count
        for (name, value) in fields { size += 8 + name.utf8.count + value.utf8.count }
        return size
    }

    static func append(id: StreamID, fields: [(String, String)], to buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerBytes))
        appendUInt32(UInt32(1 + 2 * fields.count), to: &buffer)
        appendString(id.description, to: &buffer)
        for (name, value) in fields {
            appendString(name, to: &buffer)
            appendString(value, to: &buffer)
        }
        let payloadLength = buffer.count - start - headerBytes
        let checksum = buffer.withUnsafeBufferPointer { fnv1a(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[(start + headerBytes)...]))) }
        writeUInt32(UInt32(payloadLength), into: &buffer, at: start)
        writeUInt32(checksum, into: &buffer, at: start + 4)
    }

    enum DecodeResult {
        /// A whole, valid record occupying `length` bytes.
        case record(SpoolRecord, length: Int)
        /// The bytes end inside a record (maybe a torn write, maybe only a short read).
        case incomplete
        /// The bytes cannot be a record (bad length, checksum or layout).
        case corrupt
    }

    /// Decodes the record starting at the beginning of `bytes`.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> DecodeResult {
        guard bytes.count >= headerBytes else { return .incomplete }
        let length = Int(readUInt32(bytes, at: 0))
        guard length >= 4, length <= maxPayloadBytes + 64 else { return .corrupt }
        guard bytes.count >= headerBytes + length else { return .incomplete }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<(headerBytes + length)])
        guard fnv1a(payload) == readUInt32(bytes, at: 4) else { return .corrupt }
        let count = Int(readUInt32(payload, at: 0))
        guard count >= 1, count % 2 == 1, count <= length / 4 else { return .corrupt }
        var offset = 4
        var strings: [String] = []
        strings.reserveCapacity(count)
        for _ in 0..<count {
            guard offset + 4 <= length else { return .corrupt }
            let size = Int(readUInt32(payload, at: offset))
            offset += 4
            guard size <= length - offset else { return .corrupt }
            strings.append(String(decoding: UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + size)]), as: UTF8.self))
            offset += size
        }
        guard offset == length, let id = StreamID(strings[0]) else { return .corrupt }
        var fields: [(String, String)] = []
        fields.reserveCapacity(count / 2)
        var index = 1
        while index < count {
            fields.append((strings[index], strings[index + 1]))
            index += 2
        }
        return .record(SpoolRecord(id: id, fields: fields), length: headerBytes + length)
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    private static func appendString(_ string: String, to buffer: inout [UInt8]) {
        let utf8 = string.utf8
        appendUInt32(UInt32(utf8.count), to: &buffer)
        buffer.append(contentsOf: utf8)
    }

    private static func appendUInt32(_ value: UInt32, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private static func writeUInt32(_ value: UInt32, into buffer: inout [UInt8], at index: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for offset in 0..<4 { buffer[index + offset] = raw[offset] }
        }
    }

    private static func readUInt32(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in (0..<4).reversed() { value = value << 8 | UInt32(bytes[index + offset]) }
        return value
    }
}
