import OggEdgeCore

/// Reads one HTTP/1.1 request head straight from the socket's bytes, for the fast lane.
///
/// The grammar accepted is a strict subset of RFC 9112's: a request line `METHOD SP target SP
/// HTTP/1.x CRLF`, header lines `name ":" OWS value CRLF` with token names and visible
/// values, and an empty line. No bare LF, no obs-fold, no control bytes, no body framing other
/// than `Content-Length: 0`. Whatever falls outside it — however legal — is ``Scan/unknown``:
/// NIO's decoder then reads those bytes and everything after them, and judges them as it always
/// did. So this scanner can only ever take a request away from the decoder that the decoder would
/// have read the same way.
enum RawRequestScanner {
    /// What the bytes at the start of a buffer hold.
    enum Scan {
        /// A whole, body-less `GET`/`HEAD` of a `/tracks/` path that the fast lane may answer;
        /// `length` bytes long.
        case candidate(RawRequest)
        /// A whole `GET`/`HEAD` of `length` bytes, in the strict grammar, without a body, that the
        /// fast lane does not answer (another path, HTTP/1.0, `Connection: close`, ...). Handing
        /// exactly these bytes to the decoder leaves it at a request boundary.
        case other(length: Int)
        /// Not a whole head yet, or bytes outside the strict grammar, or a request with a body.
        case unknown
    }

    /// Longest head read here (longer ones go to the decoder, which applies the configured limits).
    static let maxHeadBytes = 8192
    /// Most header lines read here.
    static let maxFields = 64

    /// Scans the head at the start of `bytes`.
    static func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        let count = min(bytes.count, maxHeadBytes)
        var i = 0
        // Request line: method.
        let methodStart = i
        while i < count, isTokenByte(bytes[i]) { i += 1 }
        let methodLength = i - methodStart
        guard methodLength > 0, i < count, bytes[i] == space else { return .unknown }
        let isGet = methodLength == 3 && bytes[0] == 0x47 && bytes[1] == 0x45 && bytes[2] == 0x54
        let isHead = methodLength == 4 && bytes[0] == 0x48 && bytes[1] == 0x45 && bytes[2] == 0x41 && bytes[3] == 0x44
        i += 1
        // Target: origin form (`/` first), visible ASCII only.
        guard i < count, bytes[i] == 0x2F else { return .unknown }
        let targetStart = i
        while i < count, bytes[i] > 0x20, bytes[i] < 0x7F { i += 1 }
        let targetEnd = i
        guard targetEnd > targetStart, i < count, bytes[i] == space else { return .unknown }
        i += 1
        // Version: HTTP/1.1 or HTTP/1.0, then CRLF.
        guard i + 10 <= count, matches(bytes, at: i, "HTTP/1."),
              bytes[i + 7] == 0x31 || bytes[i + 7] == 0x30,
              bytes[i + 8] == cr, bytes[i + 9] == lf else { return .unknown }
        let isHTTP11 = bytes[i + 7] == 0x31
        i += 10

        var request = FastRequest()
        var candidate = (isGet || isHead) && isHTTP11 && startsWithTracks(bytes, from: targetStart, to: targetEnd)
        var fields = 0
        var sawContentLength = false
        while true {
            guard i + 1 < count else { return .unknown }
            if bytes[i] == cr {
                guard bytes[i + 1] == lf else { return .unknown }
                i += 2
                break
            }
            fields += 1
            guard fields <= maxFields else { return .unknown }
            let nameStart = i
            while i < count, isTokenByte(bytes[i]) { i += 1 }
            let nameEnd = i
            guard nameEnd > nameStart, i < count, bytes[i] == colon else { return .unknown }
            i += 1
            while i < count, bytes[i] == space || bytes[i] == tab { i += 1 }
            // Leading whitespace is skipped; trailing whitespace is kept, as NIO's decoder keeps
            // it (the values must be the ones the general path would see).
            let valueStart = i
            while i < count {
                let b = bytes[i]
                if b == cr { break }
                guard b == tab || b >= 0x20, b != 0x7F else { return .unknown }
                i += 1
            }
            let valueEnd = i
            guard i + 1 < count, bytes[i + 1] == lf else { return .unknown }
            i += 2
            let name = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])
            let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
            let field = Field(name)
            switch field {
            case .transferEncoding:
                return .unknown
            case .contentLength:
                guard !sawContentLength, value.count == 1, value[0] == 0x30 else { return .unknown }
                sawContentLength = true
            case .range, .ifMatch, .ifNoneMatch, .ifModifiedSince, .ifUnmodifiedSince, .ifRange, .connection:
                if candidate { candidate = request.take(field, string(value)) }
            case .expect, .upgrade:
                return .unknown  // protocol switches and interim answers: the decoder's business
            case .other:
                continue
            }
        }
        // Only `GET`/`HEAD` are handed on cut at their end: other methods (bodies, `CONNECT`,
        // methods the decoder refuses) leave the rest of the connection to the decoder.
        guard isGet || isHead else { return .unknown }
        guard candidate else { return .other(length: i) }
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<targetEnd]), as: UTF8.self)
        return .candidate(RawRequest(isHead: isHead, target: target, request: request, length: i))
    }

    /// The header fields the scanner reads.
    enum Field {
        case transferEncoding, contentLength, range, ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince, ifRange
        case connection, expect, upgrade, other

        init(_ name: UnsafeRawBufferPointer) {
            switch name.count {
            case 5 where equalsLowercased(name, "range"): self = .range
            case 6 where equalsLowercased(name, "expect"): self = .expect
            case 7 where equalsLowercased(name, "upgrade"): self = .upgrade
            case 8 where equalsLowercased(name, "if-match"): self = .ifMatch
            case 8 where equalsLowercased(name, "if-range"): self = .ifRange
            case 10 where equalsLowercased(name, "connection"): self = .connection
            case 13 where equalsLowercased(name, "if-none-match"): self = .ifNoneMatch
            case 14 where equalsLowercased(name, "content-length"): self = .contentLength
            case 17 where equalsLowercased(name, "if-modified-since"): self = .ifModifiedSince
            case 17 where equalsLowercased(name, "transfer-encoding"): self = .transferEncoding
            case 19 where equalsLowercased(name, "if-unmodified-since"): self = .ifUnmodifiedSince
            default: self = .other
            }
        }
    }

    private static let space: UInt8 = 0x20
    private static let tab: UInt8 = 0x09
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A
    private static let colon: UInt8 = 0x3A

    /// RFC 9110 `tchar`.
    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    private static func matches(_ bytes: UnsafeRawBufferPointer, at i: Int, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in
            guard i + expected.count <= bytes.count else { return false }
            for j in 0..<expected.count where bytes[i + j] != expected[j] { return false }
            return true
        }
    }

    private static func startsWithTracks(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
        end - start > 8 && matches(bytes, at: start, "/tracks/")
    }

    /// ASCII case-insensitive equality with a lowercase literal.
    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in
            guard bytes.count == expected.count else { return false }
            for j in 0..<expected.count {
                let b = bytes[j]
                let lower = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                guard lower == expected[j] else { return false }
            }
            return true
        }
    }

    private static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// A fast-lane candidate read by ``RawRequestScanner``.
struct RawRequest {
    var isHead: Bool
    /// The request target as sent (path and query).
    var target: String
    var request: FastRequest
    /// Bytes of the head, the final empty line included.
    var length: Int
}
