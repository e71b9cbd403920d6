@testable import OggEdgeServer
import OggEdgeCore
import Testing

/// The scanner in front of NIO's decoder may take only requests the decoder would read the same
/// way; anything else must be left to the decoder (`unknown`), or handed on cut at its end
/// (`other`) only when it is a whole, body-less `GET`/`HEAD`.
@Suite struct RawRequestScannerTests {
    static func scan(_ text: String) -> RawRequestScanner.Scan {
        Array(text.utf8).withUnsafeBytes { RawRequestScanner.scan($0) }
    }

    static func candidate(_ text: String) -> RawRequest? {
        if case .candidate(let raw) = scan(text) { return raw }
        return nil
    }

    static func isUnknown(_ text: String) -> Bool {
        if case .unknown = scan(text) { return true }
        return false
    }

    static func otherLength(_ text: String) -> Int? {
        if case .other(let length) = scan(text) { return length }
        return nil
    }

    @Test func aPlayersRangeRequestIsACandidateWithItsHeaders() throws {
        let head = "GET /tracks/demo_160kbps.ogg?exp=1&kid=k&sig=abc HTTP/1.1\r\nHost: x\r\nRange:  bytes=0-99\r\n"
            + "If-Range: \"e1\"\r\nIf-None-Match: \"e2\"\r\nIf-Match: *\r\nIf-Modified-Since: a\r\nIf-Unmodified-Since: b\r\n"
            + "Connection: Keep-Alive\r\nContent-Length: 0\r\nUser-Agent: t\r\n\r\n"
        let raw = try #require(Self.candidate(head + "GET /next"))
        #expect(raw.length == head.utf8.count)
        #expect(!raw.isHead)
        #expect(raw.target == "/tracks/demo_160kbps.ogg?exp=1&kid=k&sig=abc")
        #expect(raw.request.range == "bytes=0-99")
        #expect(raw.request.conditionals.ifRange == "\"e1\"")
        #expect(raw.request.conditionals.ifNoneMatch == "\"e2\"")
        #expect(raw.request.conditionals.ifMatch == "*")
        #expect(raw.request.conditionals.ifModifiedSince == "a")
        #expect(raw.request.conditionals.ifUnmodifiedSince == "b")
        #expect(Self.candidate("HEAD /tracks/a_96kbps.ogg HTTP/1.1\r\n\r\n")?.isHead == true)
    }

    @Test func wholeGetsTheLaneDoesNotAnswerAreCutAtTheirEnd() {
        for head in [
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.0\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nConnection: close\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nRange: bytes=0-1\r\nrange: bytes=2-3\r\n\r\n",
            "HEAD /tracks/ HTTP/1.1\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nIf-Match: *\r\nIf-Match: *\r\n\r\n",
        ] {
            #expect(Self.otherLength(head + "XYZ") == head.utf8.count, "\(head)")
        }
    }

    @Test func everythingOutsideTheStrictGrammarIsLeftToTheDecoder() {
        let ok = "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(Self.candidate(ok) != nil)
        // Every proper prefix is incomplete: the decoder takes it (and the rest of the connection).
        for end in 0..<ok.utf8.count {
            #expect(Self.isUnknown(String(decoding: Array(ok.utf8)[..<end], as: UTF8.self)), "prefix \(end)")
        }
        for head in [
            "POST /events/playback HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "DELETE /admin/cache/a HTTP/1.1\r\n\r\n",
            "CONNECT /tracks/a HTTP/1.1\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\nHost: x\n\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "GET  /tracks/a_96kbps.ogg HTTP/1.1\r\n\r\n",
            "GET /tracks/a b HTTP/1.1\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/2.0\r\n\r\n",
            "GET /tracks/a_96kbps.ogg http/1.1\r\n\r\n",
            "get /tracks/a_96kbps.ogg HTTP/1.1\r\n\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 65) + "\r\n",
            "GET /tracks/a_96kbps.ogg HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n",
        ] {
            #expect(Self.isUnknown(head), "\(head.prefix(80))")
        }
    }

    @Test func randomBytesNeverClaimMoreThanTheyHold() {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("GET /tracks/a_96kbps.ogg HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n:\t \u{7f}\u{0}".utf8)
        for _ in 0..<20_000 {
            let count = Int(rng.next() % 120)
            let bytes = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let scan = bytes.withUnsafeBytes { RawRequestScanner.scan($0) }
            switch scan {
            case .candidate(let raw): #expect(raw.length <= count && raw.length >= 4 && bytes[raw.length - 1] == 10)
            case .other(let length): #expect(length <= count && length >= 4 && bytes[length - 1] == 10)
            case .unknown: break
            }
        }
    }
}
