import NIOCore
import NIOEmbedded
import NIOHTTP1
import OggEdgeCore
@testable import OggEdgeServer
import Testing

/// The raw reader in front of NIO's decoder may only take requests the decoder reads the same
/// way. Random mutations of real request heads go to both; wherever the scanner claims a whole
/// request (`candidate` or `other`), NIO's decoder, given exactly those bytes, must decode one
/// whole request with the same method, target, version and the header values the lane reads.
@Suite struct RawRequestDifferentialTests {
    static let seeds: [String] = [
        "GET /tracks/demo_160kbps.ogg?exp=1&kid=k&sig=abc HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n",
        "HEAD /tracks/a_96kbps.ogg HTTP/1.1\r\nIf-None-Match: \"e\"\r\nConnection: keep-alive\r\n\r\n",
        "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nIf-Range: \"e\"\r\nRange: bytes=-500\r\nContent-Length: 0\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /tracks/a_96kbps.ogg HTTP/1.0\r\nUser-Agent: t\r\n\r\n",
        "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nConnection: close\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n",
    ]
    static let alphabet: [UInt8] = Array("\r\n \t:;,-=/\"\0\u{7f}aZ09?&".utf8) + [0x80, 0xff]

    /// What NIO's decoder makes of `bytes`: the request parts, or nil if it refused them.
    static func decode(_ bytes: [UInt8]) -> [HTTPServerRequestPart]? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        } catch {
            return nil
        }
        var parts: [HTTPServerRequestPart] = []
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        return parts
    }

    @Test func wholeRequestsTheScannerClaimsDecodeTheSameInNIO() throws {
        var rng = SplitMix64(seed: 2026)
        var claimed = 0
        for round in 0..<6000 {
            var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                let byte = Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]
                switch rng.next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            let scan = bytes.withUnsafeBytes { RawRequestScanner.scan($0) }
            let length: Int
            var raw: RawRequest?
            switch scan {
            case .candidate(let r): length = r.length; raw = r
            case .other(let l): length = l
            case .unknown: continue
            }
            claimed += 1
            let whole = Array(bytes[..<length])
            let text = String(decoding: whole, as: UTF8.self).debugDescription
            let parts = try #require(Self.decode(whole), "NIO refused what the scanner took: \(text)")
            try #require(parts.count == 2, "NIO did not read one whole request: \(text) -> \(parts)")
            guard case .head(let head) = parts[0], case .end = parts[1] else {
                Issue.record("not head + end: \(text)")
                continue
            }
            #expect(head.method == .GET || head.method == .HEAD, "\(text)")
            if let raw {
                #expect(head.method == (raw.isHead ? .HEAD : .GET), "\(text)")
                #expect(head.uri == raw.target, "\(text)")
                #expect(head.version == .http1_1, "\(text)")
                #expect(head.headers["range"].first == raw.request.range, "\(text)")
                #expect(head.headers["if-none-match"].first.map { Substring($0) } == raw.request.conditionals.ifNoneMatch, "\(text)")
                #expect(head.headers["if-range"].first.map { Substring($0) } == raw.request.conditionals.ifRange, "\(text)")
                #expect(!head.headers.contains(name: "transfer-encoding"), "\(text)")
            }
        }
        // The mutations leave most heads whole: the comparison ran, not just the generator.
        #expect(claimed > 1000)
    }
}
