import Foundation
import NIOHTTP1
import OggEdgeCore
import OggEdgeRedis
@testable import OggEdgeServer
import OggEdgeTesting
import Testing

/// The delivery log end to end: Redis stream exactly once across an outage, aborted downloads,
/// player beacons, size rotation, metrics.
@Suite(.serialized) struct DeliveryLogTests {
    @Test func everyRecordReachesRedisOnceAcrossAnOutage() async throws {
        let redis = try await offload { try RedisTestServer() }
        try await TestServer.with(configure: { $0.redisURL = "redis://127.0.0.1:\(redis.port)" }) { server in
            let target = server.sign("/tracks/tiny_96kbps.ogg")
            for _ in 0..<10 { _ = try await server.fetch(target, headers: [("Range", "bytes=0-99")]) }
            let connection = try redis.connection()
            #expect(await eventually { try connection.xlen("oggedge:delivery") == 10 })
            await offload { redis.stop(save: true) }
            // Served while Redis is down; records are spooled.
            for _ in 0..<15 {
                let r = try await server.fetch(target, headers: [("Range", "bytes=0-99")])
                #expect(r.status == 206)
            }
            try await offload { try redis.start() }
            let again = try redis.connection()
            #expect(await eventually { try again.xlen("oggedge:delivery") == 25 })
            let entries = try again.xrange("oggedge:delivery")
            #expect(Set(entries.map(\.id)).count == 25)
            #expect(Set(entries.compactMap { $0.value("req_id") }).count == 25)
            #expect(entries.allSatisfy { $0.value("track") == "tiny" && $0.value("status") == "206" && $0.value("bytes_sent") == "100" })
        }
        await offload { redis.stop() }
    }

    @Test func aClientThatHangsUpEarlyIsLoggedAsAborted() async throws {
        try await TestServer.with { server in
            let name = TestMedia.hugeTrack
            let length = TestMedia.bytes(name).count
            let target = server.sign("/tracks/" + name)
            // A tiny receive buffer so the server cannot push the whole body into the kernel.
            let fd = RawHTTP.connectLoopback(port: server.port, receiveBuffer: 4096)
            #expect(fd >= 0)
            let request = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 8192)
            _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            // Hang up with a reset.
            var linger = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
            close(fd)
            var record: [String: Any]?
            for _ in 0..<50 where record == nil {
                record = try await server.deliveryRecords().first { ($0["track"] as? String) == name.replacingOccurrences(of: "_320kbps.ogg", with: "") }
            }
            let r = try #require(record)
            #expect(r["aborted"] as? Bool == true)
            let sent = try #require(r["bytes_sent"] as? Int)
            #expect(sent < length)
            #expect(r["content_length"] as? Int == length)
        }
    }

    @Test func playerBeaconsAreVerifiedDeduplicatedAndRecorded() async throws {
        try await TestServer.with { server in
            let url = server.sign("/tracks/demo_160kbps.ogg", uid: "p1")
            func post(_ body: String) async throws -> TestResponse {
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/events/playback", body: body, headers: [("Content-Type", "application/json")])
                return try await request.send()
            }
            // The metrics registry is process-wide and other suites post start events at the same
            // time, so the count grows by at least this one (playback.jsonl above shows it was one).
            func reportedStarts() async throws -> Int {
                let text = try await server.fetch("/metrics").bodyText
                let line = text.split(separator: "\n").first { $0.hasPrefix("oggedge_player_tap_to_playing_seconds_count ") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            let startsBefore = try await reportedStarts()
            let first = try await post(#"{"event_id":"e-1","url":"\#(url)","tap_to_playing_ms":142.5,"stall_count":0}"#)
            #expect(first.status == 202)
            let repeatCall = try await post(#"{"event_id":"e-1","url":"\#(url)","tap_to_playing_ms":142.5}"#)
            #expect(repeatCall.status == 200)
            #expect(try await post("not json").status == 400)
            #expect(try await post(#"{"url":"\#(url)","tap_to_playing_ms":1}"#).bodyText.contains("invalid_event_id"))
            #expect(try await post(#"{"event_id":"e-2","url":"\#(url)","tap_to_playing_ms":"fast"}"#).status == 400)
            let tampered = url.replacingOccurrences(of: "uid=p1", with: "uid=p2")
            let refused = try await post(#"{"event_id":"e-3","url":"\#(tampered)","tap_to_playing_ms":10}"#)
            #expect(refused.status == 403)
            #expect(refused.bodyText == #"{"error":"bad_signature"}"#)
            server.server.playbackLog.flush()
            let path = (server.logPath as NSString).deletingLastPathComponent + "/playback.jsonl"
            let lines = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 1)
            let event = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(event["event_id"] as? String == "e-1")
            #expect(event["uid"] as? String == "p1")
            #expect(event["tap_to_playing_ms"] as? Double == 142.5)
            #expect(try await reportedStarts() >= startsBefore + 1)
        }
    }

    @Test func beaconEventIdsAreOneTo128BytesOfTheContractAlphabet() async throws {
        try await TestServer.with { server in
            let url = server.sign("/tracks/demo_160kbps.ogg")
            func post(eventId: String) async throws -> TestResponse {
                let body = #"{"event_id":"# + JSONString.quoted(eventId) + #","url":"\#(url)","tap_to_playing_ms":100}"#
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/events/playback", body: body, headers: [("Content-Type", "application/json")])
                return try await request.send()
            }
            // One grapheme cluster of about 15 KB: one "character", 15,001 bytes.
            let combining = "e" + String(repeating: "\u{301}", count: 7_500)
            for bad in [combining, String(repeating: "a", count: 129), "", "a b", "caf\u{e9}", "a/b", "a\u{7f}"] {
                let r = try await post(eventId: bad)
                #expect(r.status == 400, "\(bad.utf8.count) bytes")
                #expect(r.bodyText == #"{"error":"invalid_event_id"}"#)
            }
            #expect(try await post(eventId: String(repeating: "a", count: 128)).status == 202)
            #expect(try await post(eventId: "A.b_c:d-0").status == 202)
        }
    }

    @Test func beaconTapToPlayingIsANumberFrom0To600000NeverABoolean() async throws {
        try await TestServer.with { server in
            let url = server.sign("/tracks/demo_160kbps.ogg")
            func post(_ id: String, tap: String) async throws -> TestResponse {
                let body = #"{"event_id":"\#(id)","url":"\#(url)","tap_to_playing_ms":\#(tap)}"#
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/events/playback", body: body, headers: [("Content-Type", "application/json")])
                return try await request.send()
            }
            // 0 and 1 are what JSONSerialization on Linux cannot tell from false and true.
            for (i, tap) in ["0", "1", "600000", "0.5", "1e3"].enumerated() {
                let r = try await post("ok-\(i)", tap: tap)
                #expect(r.status == 202, "\(tap): \(r.bodyText)")
            }
            for (i, tap) in ["true", "false", "null", "-1", "600001", #""5""#, "[1]", "{}"].enumerated() {
                let r = try await post("bad-\(i)", tap: tap)
                #expect(r.status == 400, "\(tap)")
                #expect(r.bodyText == #"{"error":"invalid_tap_to_playing_ms"}"#, "\(tap)")
            }
            server.server.playbackLog.flush()
            let path = (server.logPath as NSString).deletingLastPathComponent + "/playback.jsonl"
            let events = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self).split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(events.count == 5)
            #expect(events.first { $0["event_id"] as? String == "ok-0" }?["tap_to_playing_ms"] as? Double == 0)
        }
    }

    @Test func beaconsAnswerCORSForAPlayerOnAnotherOrigin() async throws {
        try await TestServer.with { server in
            let preflight = try await server.fetch("/events/playback", method: .OPTIONS, headers: [
                ("Origin", "https://player.example"), ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ])
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == "*")
            #expect(preflight.header("Access-Control-Allow-Methods") == "POST, OPTIONS")
            #expect(preflight.header("Access-Control-Allow-Headers")?.lowercased() == "content-type")
            #expect(preflight.header("Access-Control-Max-Age").flatMap(Int.init).map { $0 > 0 } == true)
            #expect(preflight.body.isEmpty)

            let url = server.sign("/tracks/demo_160kbps.ogg")
            let origin = [("Origin", "https://player.example"), ("Content-Type", "application/json")]
            func post(_ body: String) async throws -> TestResponse {
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/events/playback", body: body, headers: origin)
                return try await request.send()
            }
            let accepted = try await post(#"{"event_id":"cors-1","url":"\#(url)","tap_to_playing_ms":90}"#)
            let repeated = try await post(#"{"event_id":"cors-1","url":"\#(url)","tap_to_playing_ms":90}"#)
            let bad = try await post("{")
            let refused = try await post(#"{"event_id":"cors-2","url":"/tracks/demo_160kbps.ogg","tap_to_playing_ms":90}"#)
            let wrongMethod = try await server.fetch("/events/playback", headers: [("Origin", "https://player.example")])
            let statuses: [Int] = [accepted.status, repeated.status, bad.status, refused.status, wrongMethod.status]
            #expect(statuses == [202, 200, 400, 403, 405])
            for r in [accepted, repeated, bad, refused, wrongMethod] {
                #expect(r.header("Access-Control-Allow-Origin") == "*", "\(r.status)")
            }
            #expect(wrongMethod.header("Allow") == "POST, OPTIONS")
        }
    }

    @Test func responsesThatAreNotAudioAreLoggedWithCacheNullAndCountedNowhere() async throws {
        try await TestServer.with { server in
            let auth = [("Authorization", "Bearer test-admin-token")]
            let target = server.sign("/tracks/demo_96kbps.ogg")
            func beacon(_ body: String) async throws -> TestResponse {
                var request = HTTPClientRequestBuilder.post(server.baseURL + "/events/playback", body: body, headers: [("Content-Type", "application/json")])
                return try await request.send()
            }
            // Not audio.
            #expect(try await server.fetch("/healthz").status == 200)
            #expect(try await server.fetch("/readyz").status == 200)
            #expect(try await server.fetch("/metrics").status == 200)
            #expect(try await server.fetch("/nothing-here").status == 404)
            #expect(try await server.fetch("/healthz", method: .POST).status == 405)
            #expect(try await server.fetch("/admin/stats").status == 401)
            #expect(try await server.fetch("/admin/stats", headers: auth).status == 200)
            _ = try await server.fetch("/events/playback", method: .OPTIONS)
            #expect(try await beacon(#"{"event_id":"n-1","url":"\#(target)","tap_to_playing_ms":5}"#).status == 202)
            #expect(try await beacon("{").status == 400)
            #expect(try await beacon(#"{"event_id":"n-2","url":"/tracks/demo_96kbps.ogg","tap_to_playing_ms":5}"#).status == 403)
            #expect(try await server.fetch(target, method: .OPTIONS).status == 204)
            // Audio.
            #expect(try await server.fetch(target).status == 200)
            #expect(try await server.fetch("/tracks/demo_96kbps.ogg").status == 403)
            #expect(try await server.fetch("/tracks/nothing").status == 404)

            let records = try await server.deliveryRecords()
            func isAudio(_ r: [String: Any]) -> Bool {
                (r["path"] as? String)?.hasPrefix("/tracks/") == true && r["method"] as? String != "OPTIONS"
            }
            let other = records.filter { !isAudio($0) }
            #expect(other.count == 12)
            for r in other {
                #expect(r["cache"] is NSNull, "\(r["method"] ?? "") \(r["path"] ?? "") \(r["status"] ?? "")")
            }
            #expect(records.filter(isAudio).map { $0["cache"] as? String } == ["MISS", "DENIED", "ERROR"])
            let refusedBeacon = try #require(other.first { $0["status"] as? Int == 403 })
            #expect(refusedBeacon["auth"] as? String == "missing_signature")

            let stats = try await server.fetch("/admin/stats", headers: auth)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any])
            #expect(json["misses"] as? Int == 1)
            #expect(json["hits"] as? Int == 0)
            #expect(json["coalesced"] as? Int == 0)
        }
    }

    @Test func metricsCountResponsesThatAreNotAudioUnderNoCacheLabel() async throws {
        // The registry is shared by every server in the process, so use amounts no test reaches:
        // 1 TB sent and a TTFB of 11 days, for a response that is not audio.
        try await TestServer.with { server in
            func totals() async throws -> (bytes: [String: Double], ttfbSum: [String: Double]) {
                var bytes: [String: Double] = [:], ttfbSum: [String: Double] = [:]
                for line in try await server.fetch("/metrics").bodyText.split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 2, let value = Double(parts[1]) else { continue }
                    if parts[0].hasPrefix("oggedge_bytes_sent_total{") { bytes[String(parts[0])] = value }
                    if parts[0].hasPrefix("oggedge_ttfb_seconds_sum{") { ttfbSum[String(parts[0])] = value }
                }
                return (bytes, ttfbSum)
            }
            let before = try await totals()
            OriginMetrics.shared.record(DeliveryRecord(
                timestampMs: 0, requestId: "x", clientIP: "::1", method: "GET", path: "/metrics", status: 200,
                bytesSent: 1_000_000_000_000, ttfbMicros: 1_000_000_000_000, cache: nil
            ))
            let after = try await totals()
            #expect(!after.bytes.isEmpty && !after.ttfbSum.isEmpty)
            for (name, value) in after.bytes { #expect(value - (before.bytes[name] ?? 0) < 1e11, "\(name)") }
            for (name, value) in after.ttfbSum { #expect(value - (before.ttfbSum[name] ?? 0) < 1e5, "\(name)") }
        }
    }

    @Test func headAndMultipartResponsesAreLoggedByteAccurately() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/demo_96kbps.ogg")
            let head = try await server.fetch(target, method: .HEAD)
            let multi = try await server.fetch(target, headers: [("Range", "bytes=0-99,200-299")])
            let notModified = try await server.fetch(target, headers: [("If-None-Match", head.header("ETag") ?? "")])
            #expect(notModified.status == 304)
            let records = try await server.deliveryRecords().filter { $0["track"] as? String == "demo" }
            #expect(records.count == 3)
            let h = try #require(records.first { $0["method"] as? String == "HEAD" })
            #expect(h["bytes_sent"] as? Int == 0)
            #expect(h["content_length"] as? Int == TestMedia.bytes("demo_96kbps.ogg").count)
            #expect(h["playback_start_us"] is NSNull)
            #expect(h["aborted"] as? Bool == false)
            let m = try #require(records.first { $0["status"] as? Int == 206 })
            #expect(m["bytes_sent"] as? Int == multi.body.count)
            #expect(m["content_length"] as? Int == multi.body.count)
            #expect(m["range"] as? String == "bytes=0-99,200-299")
            #expect(m["range_start"] as? Int == 0 && m["range_end"] as? Int == 299)
            let n = try #require(records.first { $0["status"] as? Int == 304 })
            #expect(n["bytes_sent"] as? Int == 0)
        }
    }

    @Test func metricsCarryTTFBHistogramsByCacheResult() async throws {
        try await TestServer.with { server in
            _ = try await server.fetch(server.sign("/tracks/tiny_96kbps.ogg"))
            _ = try await server.fetch("/tracks/tiny_96kbps.ogg")
            let text = try await server.fetch("/metrics").bodyText
            #expect(text.contains(#"oggedge_ttfb_seconds_bucket{cache="MISS",le="0.2"}"#))
            #expect(text.contains(#"oggedge_refusals_total{reason="missing_signature"}"#))
            #expect(text.contains("oggedge_cache_bytes"))
            #expect(text.contains("oggedge_transcodes_in_flight"))
        }
    }

    @Test func theLogRotatesBySize() async throws {
        try await TestServer.with(configure: { $0.deliveryLogRotateBytes = 2000 }) { server in
            let target = server.sign("/tracks/tiny_96kbps.ogg")
            for _ in 0..<12 {
                _ = try await server.fetch(target)
                server.server.deliveryLog.flush()
            }
            let rotated = FileManager.default.contents(atPath: server.logPath + ".1")
            #expect(rotated != nil)
            let current = FileManager.default.contents(atPath: server.logPath)?.count ?? .max
            #expect(current <= 2000)
        }
    }

    /// Batches larger than one write slice, and the buffer the writer hands back between them:
    /// every line lands once, whole and in order.
    @Test func largeBatchesLandWholeAndInOrderAcrossReusedBuffers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-log-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("delivery.jsonl").path
        let log = try DeliveryLog(path: path, logger: testLogger)
        var stamps = RFC3339.SecondCache()
        let perBatch = 3000  // about 1.2 MB: nine write slices
        for batch in 0..<3 {
            for i in 0..<perBatch {
                let record = DeliveryRecord(
                    timestampMs: 1_764_090_456_789 + Int64(i), requestId: "r-\(batch * perBatch + i)", clientIP: "127.0.0.1",
                    method: "GET", path: "/tracks/demo_160kbps.ogg", track: "demo", kbps: 160, status: 206,
                    range: "bytes=\(i)-\(i + 4095)", rangeStart: Int64(i), rangeEnd: Int64(i + 4095), contentLength: 4096,
                    bytesSent: 4096, ttfbMicros: 100, durationMicros: 200, cache: .hit
                )
                log.submit(record, stamps: &stamps)
            }
            log.flush()
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 * perBatch + 1)  // the last line ends in a newline
        #expect(lines.last == "")
        for (n, line) in lines.dropLast().enumerated() {
            guard line.hasPrefix("{\"ts\":"), line.hasSuffix("}"), line.contains("\"req_id\":\"r-\(n)\"") else {
                Issue.record("line \(n) is not record \(n): \(line.prefix(120))")
                return
            }
        }
    }

    /// The writer thread, without anyone calling `flush`: a record lands on its own (within
    /// `flushInterval` of its arrival); a batch that reaches `batchBytes` lands without waiting
    /// for the interval (an hour here, so nothing else can write it); stopping writes what is
    /// left, in order.
    @Test func theWriterThreadWritesBatchesOnItsOwnAndEverythingOnStop() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-log-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        func record(_ n: Int) -> DeliveryRecord {
            DeliveryRecord(
                timestampMs: 1_764_090_456_789, requestId: "r-\(n)", clientIP: "127.0.0.1", method: "GET",
                path: "/tracks/demo_160kbps.ogg", track: "demo", kbps: 160, status: 206, range: "bytes=0-1",
                rangeStart: 0, rangeEnd: 1, contentLength: 2, bytesSent: 2, ttfbMicros: 100, durationMicros: 200, cache: .hit
            )
        }
        func lines(_ path: String) -> [Substring] {
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            return String(decoding: data, as: UTF8.self).split(separator: "\n")
        }
        var stamps = RFC3339.SecondCache()

        let quickPath = dir.appendingPathComponent("quick.jsonl").path
        let quick = try DeliveryLog(path: quickPath, flushInterval: .milliseconds(20), logger: testLogger)
        quick.startWriter()
        quick.submit(record(0), stamps: &stamps)
        #expect(await eventually(timeout: .seconds(10)) { lines(quickPath).count == 1 })
        // The writer runs below the event loops (field 19 of a thread's `/proc` stat is its nice value).
        let nices = Self.niceValues(ofThreadsNamed: "oggedge-log-w")
        #expect(!nices.isEmpty && nices.allSatisfy { $0 == Int(DeliveryLog.writerNiceness) } && DeliveryLog.writerNiceness > 0, "\(nices)")
        await quick.stopWriter()

        let path = dir.appendingPathComponent("delivery.jsonl").path
        let log = try DeliveryLog(path: path, flushInterval: .seconds(3600), batchBytes: 64 * 1024, logger: testLogger)
        log.startWriter()
        // About 400 bytes a line: 1,000 lines pass 64 KiB.
        for n in 0..<1000 { log.submit(record(n), stamps: &stamps) }
        #expect(await eventually(timeout: .seconds(10)) { lines(path).count >= 161 }, "a full batch waited for the interval")
        for n in 1000..<1005 { log.submit(record(n), stamps: &stamps) }
        await log.stopWriter()
        let all = lines(path)
        #expect(all.count == 1005)
        for (n, line) in all.enumerated() where !line.contains("\"req_id\":\"r-\(n)\"") {
            Issue.record("line \(n) is not record \(n)")
            break
        }
    }

    /// The nice values of this process's threads whose name starts with `name`.
    static func niceValues(ofThreadsNamed name: String) -> [Int] {
        var nices: [Int] = []
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8), comm.hasPrefix(name),
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let paren = stat.lastIndex(of: ")") else { continue }
            // After the ")" come fields 3, 4, ...: the nice value (19) is the 17th.
            let fields = stat[stat.index(after: paren)...].split(separator: " ")
            if fields.count > 16, let nice = Int(fields[16]) { nices.append(nice) }
        }
        return nices
    }

    /// External rotation (`SIGHUP` calls `reopen`): the file renamed away, the writer opens a new
    /// one at the path even while no record comes, and the next record lands there.
    @Test func reopenAfterARenameWritesTheNextRecordToANewFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-log-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("delivery.jsonl").path
        let log = try DeliveryLog(path: path, flushInterval: .milliseconds(20), logger: testLogger)
        func record(_ id: String) -> DeliveryRecord {
            DeliveryRecord(
                timestampMs: 1_764_090_456_789, requestId: id, clientIP: "127.0.0.1", method: "GET",
                path: "/tracks/demo_160kbps.ogg", track: "demo", kbps: 160, status: 200, range: nil,
                rangeStart: nil, rangeEnd: nil, contentLength: 2, bytesSent: 2, ttfbMicros: 100, durationMicros: 200, cache: .hit
            )
        }
        func text(_ path: String) -> String? {
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        }
        var stamps = RFC3339.SecondCache()
        log.startWriter()
        log.submit(record("before"), stamps: &stamps)
        #expect(await eventually(timeout: .seconds(10)) { text(path)?.contains("before") == true })
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        log.reopen()
        #expect(await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: path) }, "reopened without a record")
        log.submit(record("after"), stamps: &stamps)
        #expect(await eventually(timeout: .seconds(10)) { text(path)?.contains("after") == true })
        await log.stopWriter()
        #expect(text(path + ".1")?.contains("after") == false)
        #expect(text(path + ".1")?.contains("before") == true)
    }
}
