import NIOCore

/// A minimal HTTP/1.1 response reader for the load generator: status line, the three headers
/// that frame a response (`Content-Length`, `Transfer-Encoding: chunked`, `Connection: close`),
/// and a body it only counts. One response at a time (no pipelining); bodies are never copied.
struct ResponseParser {
    enum Outcome: Equatable {
        case needMore
        /// A whole response: its status, whether the connection may be reused, body bytes.
        case complete(status: Int, keepAlive: Bool, bodyBytes: Int)
        case failed(String)
    }

    private enum State {
        case head
        case body(remaining: Int)
        case untilClose
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    private var state = State.head
    private var pending: ByteBuffer?
    private var status = 0
    private var keepAlive = true
    private var bodyBytes = 0
    /// The request was `HEAD`: the response has no body whatever its headers say.
    var expectNoBody = false

    private static let maxHead = 64 * 1024

    /// Consumes bytes of `buffer` until a response is complete or the bytes run out.
    mutating func feed(_ buffer: inout ByteBuffer) -> Outcome {
        while true {
            switch state {
            case .head:
                guard let line = takeThrough(&buffer, terminator: .head) else {
                    return (pending?.readableBytes ?? 0) > Self.maxHead ? .failed("response head too large") : .needMore
                }
                if let error = parseHead(line) { return .failed(error) }
            case .body(let remaining):
                if remaining == 0 { return finish() }
                let n = min(remaining, buffer.readableBytes)
                if n == 0 { return .needMore }
                buffer.moveReaderIndex(forwardBy: n)
                bodyBytes += n
                state = .body(remaining: remaining - n)
            case .untilClose:
                bodyBytes += buffer.readableBytes
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return .needMore
            case .chunkLine:
                guard let line = takeThrough(&buffer, terminator: .line) else { return .needMore }
                let hex = line.prefix(while: { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "\r") })
                guard let size = Int(String(decoding: hex, as: UTF8.self).trimmingSpaces, radix: 16) else {
                    return .failed("bad chunk size")
                }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, buffer.readableBytes)
                if n == 0 { return .needMore }
                buffer.moveReaderIndex(forwardBy: n)
                bodyBytes += n
                state = remaining - n == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                guard takeThrough(&buffer, terminator: .line) != nil else { return .needMore }
                state = .chunkLine
            case .trailers:
                guard let line = takeThrough(&buffer, terminator: .line) else { return .needMore }
                if line.count <= 2 { return finish() }
            }
        }
    }

    /// The connection closed: a response read until close is complete now, any other is cut short.
    mutating func closed() -> Outcome {
        if case .untilClose = state {
            keepAlive = false
            return finish()
        }
        return .failed("connection closed mid-response")
    }

    private mutating func finish() -> Outcome {
        let outcome = Outcome.complete(status: status, keepAlive: keepAlive, bodyBytes: bodyBytes)
        state = .head
        status = 0
        keepAlive = true
        bodyBytes = 0
        expectNoBody = false
        return outcome
    }

    private enum Terminator { case head, line }

    /// The bytes up to and including the terminator (`\r\n\r\n`, or `\n` for a line), joined with
    /// any earlier partial bytes, or nil (the partial bytes kept) when the terminator has not come yet.
    private mutating func takeThrough(_ buffer: inout ByteBuffer, terminator: Terminator) -> [UInt8]? {
        if var joined = pending {
            joined.writeBuffer(&buffer)
            buffer = joined
            pending = nil
        }
        let view = buffer.readableBytesView
        var end: Int?
        var index = view.startIndex
        while index < view.endIndex {
            if view[index] == UInt8(ascii: "\n") {
                if terminator == .line { end = index; break }
                if index - view.startIndex >= 3, view[index - 1] == UInt8(ascii: "\r"),
                   view[index - 2] == UInt8(ascii: "\n"), view[index - 3] == UInt8(ascii: "\r") {
                    end = index
                    break
                }
            }
            index += 1
        }
        guard let end else {
            pending = buffer
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        }
        let count = end - view.startIndex + 1
        let bytes = Array(view[view.startIndex..<view.startIndex + count])
        buffer.moveReaderIndex(forwardBy: count)
        return bytes
    }

    /// Reads the status line and framing headers; returns an error message or nil.
    private mutating func parseHead(_ head: [UInt8]) -> String? {
        // "HTTP/1.1 206 …"
        guard head.count >= 12, head[0] == UInt8(ascii: "H"), head[4] == UInt8(ascii: "/"), head[8] == UInt8(ascii: " ") else {
            return "bad status line"
        }
        var code = 0
        for i in 9..<12 {
            let d = Int(head[i]) - 48
            guard (0...9).contains(d) else { return "bad status code" }
            code = code * 10 + d
        }
        status = code
        keepAlive = head[7] == UInt8(ascii: "1")
        var contentLength: Int?
        var chunked = false
        var lineStart = 0
        while let nl = head[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = head[lineStart..<nl]
            lineStart = nl + 1
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = line[line.startIndex..<colon]
            // Only the framing headers become strings; the others are skipped by their bytes.
            let value = line[(colon + 1)...]
            if Self.isName(name, "content-length") {
                contentLength = Self.decimal(value)
            } else if Self.isName(name, "transfer-encoding") {
                chunked = Self.containsLowercase(value, "chunked")
            } else if Self.isName(name, "connection") {
                if Self.containsLowercase(value, "close") { keepAlive = false }
                if Self.containsLowercase(value, "keep-alive") { keepAlive = true }
            }
        }
        if expectNoBody || code == 204 || code == 304 || (100..<200).contains(code) {
            state = .body(remaining: 0)
        } else if chunked {
            state = .chunkLine
        } else if let contentLength {
            state = .body(remaining: contentLength)
        } else {
            state = .untilClose
        }
        return nil
    }
}

extension ResponseParser {
    /// Whether the header name `bytes` is `lowercaseName`, ignoring ASCII case.
    static func isName(_ bytes: ArraySlice<UInt8>, _ lowercaseName: StaticString) -> Bool {
        guard bytes.count == lowercaseName.utf8CodeUnitCount else { return false }
        return lowercaseName.withUTF8Buffer { name in
            zip(bytes, name).allSatisfy { pair in
                let b = pair.0
                return (b >= 65 && b <= 90 ? b | 0x20 : b) == pair.1
            }
        }
    }

    /// A decimal header value (spaces around it allowed), or nil.
    static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        var result = 0
        var digits = 0
        for b in bytes {
            if b >= 48 && b <= 57 {
                result = result &* 10 &+ Int(b - 48)
                digits += 1
            } else if b != 32 && b != 9 && b != 13 {
                return nil
            }
        }
        return digits > 0 && digits <= 18 ? result : nil
    }

    /// Whether `bytes` contain `lowercaseWord`, ignoring ASCII case.
    static func containsLowercase(_ bytes: ArraySlice<UInt8>, _ lowercaseWord: StaticString) -> Bool {
        lowercaseWord.withUTF8Buffer { word in
            guard bytes.count >= word.count else { return false }
            var start = bytes.startIndex
            while start + word.count <= bytes.endIndex {
                if isName(bytes[start..<start + word.count], lowercaseWord) { return true }
                start += 1
            }
            return false
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
