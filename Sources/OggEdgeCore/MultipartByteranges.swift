/// The exact layout of a `multipart/byteranges` body (RFC 9110 §14.6), computed before any body
/// byte is read so that `Content-Length` is known up front.
///
/// The body is, in order: for each part its ``Part/header`` followed by the bytes of its
/// ``Part/range``; then ``trailer``. Each header starts with the CRLF that ends the previous part
/// (for the first part it is an empty preamble's line break, as nginx and Apache send it):
///
/// ```
/// \r\n--BOUNDARY\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 0-1/11\r\n\r\n<bytes 0-1>
/// \r\n--BOUNDARY\r\nContent-Type: audio/ogg\r\nContent-Range: bytes 5-8/11\r\n\r\n<bytes 5-8>
/// \r\n--BOUNDARY--\r\n
/// ```
public struct MultipartPlan: Sendable {
    /// One body part: its header block and the representation bytes that follow it.
    public struct Part: Sendable {
        /// `\r\n--BOUNDARY\r\nContent-Type: …\r\nContent-Range: bytes a-b/LEN\r\n\r\n`.
        public let header: [UInt8]
        /// The representation bytes to send right after ``header``.
        public let range: ByteRange
    }

    /// The boundary delimiter (without the leading `--`).
    public let boundary: String
    /// The parts in body order.
    public let parts: [Part]
    /// The closing delimiter: `\r\n--BOUNDARY--\r\n`.
    public let trailer: [UInt8]
    /// Exact number of bytes of the whole body: all part headers, all ranges and the trailer.
    public let contentLength: Int64

    /// The response's `Content-Type`: `multipart/byteranges; boundary=BOUNDARY`.
    public var contentType: String { "multipart/byteranges; boundary=\(boundary)" }

    /// Plans a body.
    /// - Parameters:
    ///   - ranges: the ranges to send, in order (normally from ``RangeDecision/multiple(_:)``).
    ///   - totalLength: the representation length, written into each part's `Content-Range`.
    ///   - partContentType: the representation's media type, e.g. `audio/ogg`; must not contain CR/LF.
    ///   - boundary: 1–70 characters from RFC 2046's `bchars` that never occur in the
    ///     representation; ``makeBoundary(using:)`` makes a suitable one.
    public init(ranges: [ByteRange], totalLength: Int64?, partContentType: String, boundary: String) {
        self.boundary = boundary
        var total: Int64 = 0
        var parts: [Part] = []
        parts.reserveCapacity(ranges.count)
        for range in ranges {
            let text = "\r\n--\(boundary)\r\nContent-Type: \(partContentType)\r\n"
                + "Content-Range: \(range.contentRange(completeLength: totalLength))\r\n\r\n"
            let header = Array(text.utf8)
            parts.append(Part(header: header, range: range))
            total = Self.saturatingAdd(total, Int64(header.count))
            total = Self.saturatingAdd(total, max(range.length, 0))
        }
        self.parts = parts
        self.trailer = Array("\r\n--\(boundary)--\r\n".utf8)
        self.contentLength = Self.saturatingAdd(total, Int64(trailer.count))
    }

    /// Characters used by ``makeBoundary(using:)``: letters and digits, a subset of RFC 2046 `bchars`.
    private static let boundaryAlphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// A random 32-character alphanumeric boundary (about 190 bits), so it cannot plausibly occur in
    /// the audio bytes.
    public static func makeBoundary<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var result = ""
        result.reserveCapacity(32)
        for _ in 0..<32 {
            result.append(boundaryAlphabet[Int(generator.next(upperBound: UInt64(boundaryAlphabet.count)))])
        }
        return result
    }

    /// A random boundary from the system's random number generator.
    public static func makeBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeBoundary(using: &generator)
    }

    private static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }
}
