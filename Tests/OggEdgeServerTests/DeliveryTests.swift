import OggEdgeServer
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import OggEdgeCore
import Testing

/// End-to-end delivery against a real server on an ephemeral port with a real HTTP client.
@Suite(.serialized) struct DeliveryTests {
    let file = "demo_160kbps.ogg"

    @Test func fullGetReturnsTheFileWithPlayerHeaders() async throws {
        try await TestServer.with { server in
        let expected = TestMedia.bytes(file)
        #expect(expected.count > 10_000)
        let r = try await server.fetch(server.sign("/tracks/" + file))
        #expect(r.status == 200)
        #expect(r.body == expected)
        #expect(r.header("Content-Type") == "audio/ogg")
        #expect(r.header("Accept-Ranges") == "bytes")
        #expect(r.header("Content-Length") == String(expected.count))
        let etag = try #require(r.header("ETag"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
        #expect(r.header("Last-Modified")?.hasSuffix(" GMT") == true)
        #expect(r.header("Access-Control-Allow-Origin") == "*")
        #expect(r.header("Access-Control-Expose-Headers")?.contains("Content-Range") == true)
        let duration = try #require(r.header("X-Content-Duration").flatMap(Double.init))
        #expect(abs(duration - 4.0) < 0.01)
        }
    }

    @Test func singleSuffixAndOpenRanges() async throws {
        try await TestServer.with { server in
        let bytes = TestMedia.bytes(file)
        let len = bytes.count
        let target = server.sign("/tracks/" + file)
        let cases: [(String, Int, Int)] = [("bytes=0-8191", 0, 8191), ("bytes=100-", 100, len - 1), ("bytes=-500", len - 500, len - 1), ("bytes=10-10", 10, 10), ("bytes=\(len - 5)-999999999", len - 5, len - 1)]
        for (range, start, end) in cases {
            let r = try await server.fetch(target, headers: [("Range", range)])
            #expect(r.status == 206, "\(range)")
            #expect(r.header("Content-Range") == "bytes \(start)-\(end)/\(len)", "\(range)")
            #expect(r.body == Array(bytes[start...end]), "\(range)")
        }
        }
    }

    @Test func multipleRangesAreMultipartByteranges() async throws {
        try await TestServer.with { server in
        let bytes = TestMedia.bytes(file)
        let r = try await server.fetch(server.sign("/tracks/" + file), headers: [("Range", "bytes=0-99,1000-1099,-50")])
        #expect(r.status == 206)
        let type = try #require(r.header("Content-Type"))
        #expect(type.hasPrefix("multipart/byteranges; boundary="))
        let boundary = String(type.dropFirst("multipart/byteranges; boundary=".count))
        #expect(r.header("Content-Length") == String(r.body.count))
        let parts = Multipart.parse(r.body, boundary: boundary)
        #expect(parts.count == 3)
        let len = bytes.count
        let expected: [(Int, Int)] = [(0, 99), (1000, 1099), (len - 50, len - 1)]
        for (part, (s, e)) in zip(parts, expected) {
            #expect(part.headers["content-range"] == "bytes \(s)-\(e)/\(len)")
            #expect(part.headers["content-type"] == "audio/ogg")
            #expect(part.body == Array(bytes[s...e]))
        }
        }
    }

    @Test func unsatisfiableAndInvalidRanges() async throws {
        try await TestServer.with { server in
        let len = TestMedia.bytes(file).count
        let target = server.sign("/tracks/" + file)
        let r416 = try await server.fetch(target, headers: [("Range", "bytes=\(len)-")])
        #expect(r416.status == 416)
        #expect(r416.header("Content-Range") == "bytes */\(len)")
        let zero = try await server.fetch(target, headers: [("Range", "bytes=-0")])
        #expect(zero.status == 416)
        for invalid in ["bytes=5-1", "bytes=abc", "items=0-1", "bytes=", "bytes=--1"] {
            let r = try await server.fetch(target, headers: [("Range", invalid)])
            #expect(r.status == 200, "\(invalid)")
            #expect(r.body.count == len, "\(invalid)")
        }
        }
    }

    @Test func conditionalRequests() async throws {
        try await TestServer.with { server in
        let target = server.sign("/tracks/" + file)
        let first = try await server.fetch(target)
        let etag = try #require(first.header("ETag"))
        let lastModified = try #require(first.header("Last-Modified"))
        let inm = try await server.fetch(target, headers: [("If-None-Match", etag)])
        #expect(inm.status == 304)
        #expect(inm.body.isEmpty)
        #expect(inm.header("ETag") == etag)
        let ims = try await server.fetch(target, headers: [("If-Modified-Since", lastModified)])
        #expect(ims.status == 304)
        let other = try await server.fetch(target, headers: [("If-None-Match", "\"other\"")])
        #expect(other.status == 200)
        let ifRangeOK = try await server.fetch(target, headers: [("Range", "bytes=0-9"), ("If-Range", etag)])
        #expect(ifRangeOK.status == 206)
        let ifRangeStale = try await server.fetch(target, headers: [("Range", "bytes=0-9"), ("If-Range", "\"stale\"")])
        #expect(ifRangeStale.status == 200)
        let ifRangeWeak = try await server.fetch(target, headers: [("Range", "bytes=0-9"), ("If-Range", "W/" + etag)])
        #expect(ifRangeWeak.status == 200)
        let ifRangeDate = try await server.fetch(target, headers: [("Range", "bytes=0-9"), ("If-Range", lastModified)])
        #expect(ifRangeDate.status == 206)
        let ifMatchFail = try await server.fetch(target, headers: [("If-Match", "\"nope\"")])
        #expect(ifMatchFail.status == 412)
        }
    }

    @Test func headAndOptions() async throws {
        try await TestServer.with { server in
        let target = server.sign("/tracks/" + file)
        let get = try await server.fetch(target)
        let head = try await server.fetch(target, method: .HEAD)
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        for name in ["Content-Length", "ETag", "Last-Modified", "Content-Type", "Accept-Ranges", "X-Content-Duration"] {
            #expect(head.header(name) == get.header(name), "\(name)")
        }
        let headRange = try await server.fetch(target, method: .HEAD, headers: [("Range", "bytes=0-99")])
        // RFC 9110 §14.2: Range is defined for GET only; HEAD answers as a GET without it.
        #expect(headRange.status == 200)
        #expect(headRange.header("Content-Length") == get.header("Content-Length"))
        #expect(headRange.header("Content-Range") == nil)
        let preflight = try await server.fetch(target, method: .OPTIONS, headers: [
            ("Origin", "http://player.example"), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Headers", "range"),
        ])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "*")
        #expect(preflight.header("Access-Control-Allow-Headers")?.lowercased().contains("range") == true)
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("GET") == true)
        }
    }

    @Test func routesAndMethods() async throws {
        try await TestServer.with { server in
        #expect(try await server.fetch("/tracks/bad..id_160kbps.ogg").status == 400)
        #expect(try await server.fetch("/tracks/demo_128kbps.ogg").status == 400)
        #expect(try await server.fetch(server.sign("/tracks/missing_160kbps.ogg")).status == 404)
        #expect(try await server.fetch("/nothing-here").status == 404)
        #expect(try await server.fetch(server.sign("/tracks/" + file), method: .POST).status == 405)
        #expect(try await server.fetch("/healthz").status == 200)
        #expect(try await server.fetch("/readyz").status == 200)
        let metrics = try await server.fetch("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.bodyText.contains("oggedge_ttfb_seconds_bucket"))
        }
    }

    @Test func readyzTurns503WhileDraining() async throws {
        let server = try await TestServer.start(configure: { $0.limits.drainDelayMilliseconds = 1500 })
        #expect(try await server.fetch("/readyz").status == 200)
        let stopping = Task { await server.stop() }
        await server.server.readiness.untilDraining()
        let readyz = try await server.fetch("/readyz")
        #expect(readyz.status == 503 && readyz.bodyText == "draining\n")
        // Still serving while draining.
        #expect(try await server.fetch("/healthz").status == 200)
        await stopping.value
    }

    @Test func adminNeedsTheBearerToken() async throws {
        try await TestServer.with { server in
        #expect(try await server.fetch("/admin/stats").status == 401)
        #expect(try await server.fetch("/admin/stats", headers: [("Authorization", "Bearer wrong")]).status == 401)
        let ok = try await server.fetch("/admin/stats", headers: [("Authorization", "Bearer test-admin-token")])
        #expect(ok.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(ok.body)) as? [String: Any]
        #expect(json?["hits"] != nil && json?["cache_bytes"] != nil)
        }
        try await TestServer.with(adminToken: nil) { closed in
            let r = try await closed.fetch("/admin/stats", headers: [("Authorization", "Bearer x")])
            #expect(r.status == 404)
        }
    }

    @Test func theBearerSchemeNameIsCaseInsensitive() async throws {
        try await TestServer.with { server in
            for value in ["bearer test-admin-token", "BEARER test-admin-token", "BeArEr test-admin-token", "Bearer  test-admin-token"] {
                #expect(try await server.fetch("/admin/stats", headers: [("Authorization", value)]).status == 200, "\(value)")
            }
            for value in ["bearer wrong", "BEARER test-admin-tokenx", "Bearertest-admin-token", "Basic test-admin-token",
                          "bearer", "Bearer ", "xbearer test-admin-token", "bearer: test-admin-token"] {
                let r = try await server.fetch("/admin/stats", headers: [("Authorization", value)])
                #expect(r.status == 401, "\(value)")
                #expect(r.header("WWW-Authenticate") == "Bearer")
            }
        }
    }

    @Test func prewarmRefusesABadBodyInsteadOfWideningIt() async throws {
        try await TestServer.with { server in
            func post(_ body: String) async throws -> TestResponse {
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/admin/prewarm", body: body, headers: [
                    ("Authorization", "Bearer test-admin-token"), ("Content-Type", "application/json"),
                ])
                return try await request.send()
            }
            let refused: [(String, String)] = [
                (#"{"tracks":["demo"],"kbps":"x"}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":96}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":"96,160"}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":[]}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":[true]}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":["96"]}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":{"96":1}}"#, "invalid_kbps"),
                (#"{"tracks":["demo"],"kbps":[100]}"#, "unsupported_bitrate"),
                (#"{"tracks":["demo"],"kbps":[96,100]}"#, "unsupported_bitrate"),
                (#"{"tracks":["demo"],"heads":"yes"}"#, "invalid_heads"),
                (#"{"tracks":["demo"],"heads":1}"#, "invalid_heads"),
                (#"{"tracks":["demo"],"heads":0}"#, "invalid_heads"),
                (#"{"tracks":[]}"#, "tracks_required"),
                (#"{"kbps":[96]}"#, "tracks_required"),
                (#"{"tracks":"demo"}"#, "invalid_tracks"),
                (#"{"tracks":["demo",5]}"#, "invalid_tracks"),
                (#"{"tracks":["bad..id"]}"#, "invalid_track_id"),
                (#"{"tracks":["-demo"]}"#, "invalid_track_id"),
                (#"{"tracks":[""]}"#, "invalid_track_id"),
                (#"["demo"]"#, "invalid_json"),
            ]
            for (body, reason) in refused {
                let r = try await post(body)
                #expect(r.status == 400, "\(body)")
                #expect(r.bodyText == #"{"error":""# + reason + #""}"#, "\(body)")
            }
            for body in [#"{"tracks":["demo"],"kbps":[96],"heads":true}"#, #"{"tracks":["demo"],"kbps":null}"#, #"{"tracks":["demo"]}"#] {
                #expect(try await post(body).status == 202, "\(body)")
            }
        }
    }

    @Test func deliveryLogRecordsEveryResponse() async throws {
        try await TestServer.with { server in
        let target = server.sign("/tracks/" + file, uid: "u-42")
        _ = try await server.fetch(target, headers: [("Range", "bytes=0-8191")])
        _ = try await server.fetch(target)
        _ = try await server.fetch(target.replacingOccurrences(of: "uid=u-42", with: "uid=u-43"))
        let records = try await server.deliveryRecords()
        let fields = ["ts", "req_id", "client_ip", "method", "path", "track", "kbps", "uid", "status", "range", "range_start",
                      "range_end", "content_length", "bytes_sent", "ttfb_us", "playback_start_us", "duration_us", "cache", "auth", "aborted"]
        #expect(records.count >= 2)
        for record in records { for f in fields { #expect(record.keys.contains(f), "missing \(f)") } }
        let ok = try #require(records.first { ($0["status"] as? Int) == 206 })
        #expect(ok["bytes_sent"] as? Int == 8192)
        #expect(ok["range_start"] as? Int == 0 && ok["range_end"] as? Int == 8191)
        #expect(ok["uid"] as? String == "u-42")
        #expect(ok["track"] as? String == "demo" && ok["kbps"] as? Int == 160)
        #expect(ok["auth"] as? String == "ok")
        // 8 KiB does not reach past the first audio page of this file; the whole file does.
        #expect(ok["playback_start_us"] is NSNull)
        let whole = try #require(records.first { ($0["status"] as? Int) == 200 })
        #expect(whole["playback_start_us"] is Int)
        #expect(whole["ttfb_us"] is Int)
        let denied = try #require(records.first { ($0["status"] as? Int) == 403 })
        #expect(denied["cache"] as? String == "DENIED")
        #expect(denied["auth"] as? String == "bad_signature")
        }
    }
}

/// Splits a multipart/byteranges body into parts.
enum Multipart {
    struct Part { var headers: [String: String]; var body: [UInt8] }

    static func parse(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("\r\n--\(boundary)".utf8)
        var data = [UInt8]("\r\n".utf8) + body
        if body.starts(with: Array("--".utf8)) { data = [UInt8]("\r\n".utf8) + body }
        var parts: [Part] = []
        var positions: [Int] = []
        var i = 0
        while i + delimiter.count <= data.count {
            if Array(data[i..<(i + delimiter.count)]) == delimiter { positions.append(i); i += delimiter.count } else { i += 1 }
        }
        for (n, pos) in positions.enumerated() where n + 1 < positions.count {
            let start = pos + delimiter.count + 2
            let end = positions[n + 1]
            guard start < end else { continue }
            let chunk = Array(data[start..<end])
            guard let sep = find(Array("\r\n\r\n".utf8), in: chunk) else { continue }
            let headerText = String(decoding: chunk[..<sep], as: UTF8.self)
            var headers: [String: String] = [:]
            for line in headerText.split(separator: "\r\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
            parts.append(Part(headers: headers, body: Array(chunk[(sep + 4)...])))
        }
        return parts
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
