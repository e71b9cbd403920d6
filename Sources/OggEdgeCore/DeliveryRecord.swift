/// Where the bytes of a response came from, as the delivery log's `cache` field names it.
public enum CacheResult: String, Sendable, CaseIterable {
    /// Every byte came from the chunk cache.
    case hit = "HIT"
    /// Read from the source (file) and stored.
    case miss = "MISS"
    /// Encoded for this request.
    case transcode = "TRANSCODE"
    /// Joined a fill or transcode already under way.
    case coalesced = "COALESCED"
    /// Fetched from a parent tier.
    case upstream = "UPSTREAM"
    /// Refused (signature, ACL, entitlement).
    case denied = "DENIED"
    /// Failed before or while delivering.
    case error = "ERROR"
}

/// One line of the delivery log: everything the contract's "Delivery log" section names.
///
/// Formatted by hand into JSON (no Foundation encoder on the hot path) by ``appendJSONLine(to:)``.
public struct DeliveryRecord: Sendable, Equatable {
    /// Wall-clock time of request arrival, milliseconds since the Unix epoch.
    public var timestampMs: Int64
    /// Request id (unique within the process run).
    public var requestId: String
    /// Peer address.
    public var clientIP: String
    /// HTTP method.
    public var method: String
    /// Request path without the query (the query carries the signature).
    public var path: String
    /// Track id, when the path named one.
    public var track: String?
    /// Bitrate, when the path named one.
    public var kbps: Int?
    /// `uid` of the token, when present.
    public var uid: String?
    /// Response status.
    public var status: Int
    /// The raw `Range` header, when present.
    public var range: String?
    /// First byte offset served (inclusive), when a body range was served.
    public var rangeStart: Int64?
    /// Last byte offset served (inclusive).
    public var rangeEnd: Int64?
    /// The announced `Content-Length`, when one was announced.
    public var contentLength: Int64?
    /// Body bytes the socket accepted.
    public var bytesSent: Int64
    /// Microseconds from request arrival to the first body byte written.
    public var ttfbMicros: Int64?
    /// Microseconds until the Vorbis headers and the first audio page were written.
    public var playbackStartMicros: Int64?
    /// Microseconds from request arrival to the end of the response.
    public var durationMicros: Int64
    /// Where the bytes came from; nil (JSON `null`) for a response that is not audio delivery
    /// (health, metrics, admin, events, preflights, unknown paths): neither a hit nor a miss.
    public var cache: CacheResult?
    /// `ok` or the refusal reason.
    public var auth: String
    /// True when the client went away before the body was complete.
    public var aborted: Bool

    /// Creates a record; fields not known at creation are filled in as the response proceeds.
    public init(
        timestampMs: Int64, requestId: String, clientIP: String, method: String, path: String,
        track: String? = nil, kbps: Int? = nil, uid: String? = nil, status: Int = 0, range: String? = nil,
        rangeStart: Int64? = nil, rangeEnd: Int64? = nil, contentLength: Int64? = nil, bytesSent: Int64 = 0,
        ttfbMicros: Int64? = nil, playbackStartMicros: Int64? = nil, durationMicros: Int64 = 0,
        cache: CacheResult? = nil, auth: String = "ok", aborted: Bool = false
    ) {
        self.timestampMs = timestampMs
        self.requestId = requestId
        self.clientIP = clientIP
        self.method = method
        self.path = path
        self.track = track
        self.kbps = kbps
        self.uid = uid
        self.status = status
        self.range = range
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.contentLength = contentLength
        self.bytesSent = bytesSent
        self.ttfbMicros = ttfbMicros
        self.playbackStartMicros = playbackStartMicros
        self.durationMicros = durationMicros
        self.cache = cache
        self.auth = auth
        self.aborted = aborted
    }

    /// Appends the record as one JSON object followed by `\n`.
    public func appendJSONLine(to out: inout [UInt8]) {
        var stamps = RFC3339.SecondCache()
        withJSONLine(stamps: &stamps) { out.append(contentsOf: $0) }
    }

    /// Lends the record as one JSON object followed by `\n` to `body`, formatted in temporary
    /// memory: no array per line. `stamps` keeps the formatted date of the last second seen, for
    /// the caller's next line.
    public func withJSONLine<T>(stamps: inout RFC3339.SecondCache, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try withUnsafeTemporaryAllocation(byteCount: jsonLineBound, alignment: 1) { memory in
            try body(UnsafeRawBufferPointer(rebasing: memory[..<writeJSONLine(into: memory, stamps: &stamps)]))
        }
    }

    /// Most bytes ``writeJSONLine(into:stamps:)`` can write for this record.
    public var jsonLineBound: Int {
        let strings = requestId.utf8.count + clientIP.utf8.count + method.utf8.count + path.utf8.count
            + (track?.utf8.count ?? 0) + (uid?.utf8.count ?? 0) + (range?.utf8.count ?? 0) + auth.utf8.count + 16
        // Keys and punctuation take under 300 bytes; ten numbers at most 21 each; the timestamp
        // at most 30 (years past 9999 take more digits).
        return ByteCursor.jsonBound(fixed: 300 + 10 * 21 + 30, strings: strings, stringCount: 9)
    }

    /// Writes the record as one JSON object followed by `\n` at the start of `memory`, which
    /// holds at least ``jsonLineBound`` bytes.
    /// - Returns: the bytes written.
    public func writeJSONLine(into memory: UnsafeMutableRawBufferPointer, stamps: inout RFC3339.SecondCache) -> Int {
        precondition(memory.count >= jsonLineBound)
        var w = ByteCursor(memory)
        w.raw("{\"ts\":\"")
        stamps.write(timestampMs, to: &w)
        w.raw("\",\"req_id\":"); w.jsonString(requestId)
        w.raw(",\"client_ip\":"); w.jsonString(clientIP)
        w.raw(",\"method\":"); w.jsonString(method)
        w.raw(",\"path\":"); w.jsonString(path)
        w.raw(",\"track\":"); w.jsonString(track)
        w.raw(",\"kbps\":"); w.jsonInt(kbps.map(Int64.init))
        w.raw(",\"uid\":"); w.jsonString(uid)
        w.raw(",\"status\":"); w.jsonInt(Int64(status))
        w.raw(",\"range\":"); w.jsonString(range)
        w.raw(",\"range_start\":"); w.jsonInt(rangeStart)
        w.raw(",\"range_end\":"); w.jsonInt(rangeEnd)
        w.raw(",\"content_length\":"); w.jsonInt(contentLength)
        w.raw(",\"bytes_sent\":"); w.jsonInt(bytesSent)
        w.raw(",\"ttfb_us\":"); w.jsonInt(ttfbMicros)
        w.raw(",\"playback_start_us\":"); w.jsonInt(playbackStartMicros)
        w.raw(",\"duration_us\":"); w.jsonInt(durationMicros)
        w.raw(",\"cache\":"); w.jsonString(cache?.rawValue)
        w.raw(",\"auth\":"); w.jsonString(auth)
        w.raw(aborted ? ",\"aborted\":true}\n" : ",\"aborted\":false}\n")
        return w.count
    }

    /// The record as ordered field/value strings (a Redis stream entry); `null` becomes "".
    public var fields: [(String, String)] {
        func text(_ v: Int64?) -> String { v.map { String($0) } ?? "" }
        return [
            ("ts", RFC3339.formatMillis(timestampMs)), ("req_id", requestId), ("client_ip", clientIP), ("method", method),
            ("path", path), ("track", track ?? ""), ("kbps", kbps.map { String($0) } ?? ""), ("uid", uid ?? ""),
            ("status", String(status)), ("range", range ?? ""), ("range_start", text(rangeStart)), ("range_end", text(rangeEnd)),
            ("content_length", text(contentLength)), ("bytes_sent", String(bytesSent)), ("ttfb_us", text(ttfbMicros)),
            ("playback_start_us", text(playbackStartMicros)), ("duration_us", String(durationMicros)),
            ("cache", cache?.rawValue ?? ""), ("auth", auth), ("aborted", aborted ? "true" : "false"),
        ]
    }

    /// The record as a JSON line (convenience for tests and tools).
    public var jsonLine: String {
        var bytes: [UInt8] = []
        appendJSONLine(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// JSON string escaping (RFC 8259 §7).
public enum JSONString {
    /// Appends `value` as a quoted, escaped JSON string.
    public static func append(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most values (ids, paths, ranges) need no escape: copy them whole, straight from the
        // string's contiguous storage when it has one (native strings do).
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        if copied == nil, !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case UInt8(ascii: "\n"): out.append(contentsOf: [92, UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [92, UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20, 0x7f:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hexDigit(byte >> 4), hexDigit(byte & 0xf)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 48 + nibble : 87 + nibble
    }

    /// `value` as a quoted, escaped JSON string.
    public static func quoted(_ value: String) -> String {
        var out: [UInt8] = []
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// RFC 3339 timestamps in UTC with millisecond precision, without Foundation.
public enum RFC3339 {
    /// Appends `2026-11-25T17:07:36.123Z` for `ms` milliseconds since the epoch.
    public static func appendMillis(_ ms: Int64, to out: inout [UInt8]) {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = ms - seconds * 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secOfDay = seconds - days * 86_400
        let date = HTTPDate.civilFromDays(days)
        let (y, m, d) = (Int64(date.year), Int64(date.month), Int64(date.day))
        func pad(_ v: Int64, _ width: Int) {
            guard v >= 0 else {
                out.append(contentsOf: String(v).utf8)
                return
            }
            var divisor: Int64 = 1
            var digits = 1
            while digits < width || v / divisor >= 10 {
                divisor *= 10
                digits += 1
            }
            while divisor > 0 {
                out.append(UInt8(truncatingIfNeeded: v / divisor % 10) &+ 48)
                divisor /= 10
            }
        }
        pad(y, 4); out.append(UInt8(ascii: "-")); pad(m, 2); out.append(UInt8(ascii: "-")); pad(d, 2)
        out.append(UInt8(ascii: "T"))
        pad(secOfDay / 3600, 2); out.append(UInt8(ascii: ":")); pad(secOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":")); pad(secOfDay % 60, 2); out.append(UInt8(ascii: "."))
        pad(millis, 3); out.append(UInt8(ascii: "Z"))
    }

    /// The timestamp as a string.
    public static func formatMillis(_ ms: Int64) -> String {
        var out: [UInt8] = []
        appendMillis(ms, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
