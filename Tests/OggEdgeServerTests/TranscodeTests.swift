import Foundation
import OggEdgeTesting
import NIOHTTP1
import OggEdgeCore
import OggEdgeServer
import Testing

/// Missing bitrates made on demand, end to end.
@Suite(.serialized) struct TranscodeTests {
    static func ogginfo(_ bytes: [UInt8]) -> (ok: Bool, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-\(UUID().uuidString).ogg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ogginfo")
        p.arguments = [path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try? p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus == 0 && !out.contains("WARNING") && !out.contains("ERROR"), out)
    }

    static func lastGranule(_ bytes: [UInt8]) -> Int64? {
        bytes.suffix(65536).withUnsafeBytes { OggScan.lastGranule(tail: $0) }
    }

    @Test(arguments: [96, 160, 320])
    func coldTranscodeFromTheMasterIsValidAccurateAndExact(kbps: Int) async throws {
        try await TestServer.with { server in
            let r = try await server.fetch(server.sign("/tracks/solo_\(kbps)kbps.ogg"))
            #expect(r.status == 200)
            // A length is announced only once it is known (the encode may already be done).
            if let length = r.header("Content-Length") { #expect(length == String(r.body.count)) }
            let body = r.body
            let (ok, info) = await offload { Self.ogginfo(body) }
            #expect(ok, "\(info)")
            // 6 s at 48 kHz, to the sample.
            let granule = Self.lastGranule(r.body)
            #expect(granule == Int64(6 * 48000))
            let bitrate = Double(r.body.count * 8) / 6.0 / 1000
            #expect(abs(bitrate - Double(kbps)) / Double(kbps) <= 0.15, "bitrate \(bitrate) for \(kbps)")
            // From now on it is an ordinary object.
            let again = try await server.fetch(server.sign("/tracks/solo_\(kbps)kbps.ogg"))
            #expect(again.body == r.body)
            #expect(again.header("Content-Length") == String(r.body.count))
            #expect(again.header("ETag") != nil)
            let records = try await server.deliveryRecords().compactMap { $0["cache"] as? String }
            #expect(records.first == "TRANSCODE")
        }
    }

    @Test func fromTheHighestRenditionTagsCarryOver() async throws {
        try await TestServer.with { server in
            let r = try await server.fetch(server.sign("/tracks/onlyhi_96kbps.ogg"))
            #expect(r.status == 200)
            let body = r.body
            let (ok, info) = await offload { Self.ogginfo(body) }
            #expect(ok, "\(info)")
            #expect(info.contains("title=Only High"))
            let granule = Self.lastGranule(r.body)
            #expect(granule == Int64(4 * 44100))
        }
    }

    @Test func concurrentColdRequestsShareOneEncode() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/solo_96kbps.ogg")
            let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<8 { group.addTask { try await server.fetch(target).body } }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(Set(bodies.map { $0.count }).count == 1)
            #expect(bodies.allSatisfy { $0 == bodies[0] })
            let caches = try await server.deliveryRecords().compactMap { $0["cache"] as? String }
            #expect(caches.filter { $0 == "TRANSCODE" }.count == 1)
            #expect(caches.count == 8)
        }
    }

    @Test func aBrowsersFirstRangeRequestStreamsFromByteZero() async throws {
        try await TestServer.with { server in
            // Chromium opens media with `Range: bytes=0-`; while encoding that must stream (200),
            // not answer a short 206 with an unknown total (Chromium rejects that).
            let r = try await server.fetch(server.sign("/tracks/solo_320kbps.ogg"), headers: [("Range", "bytes=0-")])
            #expect(r.status == 200 || r.status == 206)
            if r.status == 206 {
                // Only if the encode had already finished: then it is an ordinary object.
                #expect(r.header("Content-Range") == "bytes 0-\(r.body.count - 1)/\(r.body.count)")
            }
            let granule = Self.lastGranule(r.body)
            #expect(granule == Int64(6 * 48000))
            let records = try await server.deliveryRecords()
            #expect(records.first?["cache"] as? String == "TRANSCODE")
        }
    }

    @Test func rangesDuringAndAfterTheEncode() async throws {
        try await TestServer.with { server in
            let target = server.sign("/tracks/solo_160kbps.ogg")
            // Start the encode with the first 8 KiB, as a player would.
            let head = try await server.fetch(target, headers: [("Range", "bytes=0-8191")])
            #expect(head.status == 206)
            #expect(head.body.count == 8192)
            let contentRange = try #require(head.header("Content-Range"))
            #expect(contentRange.hasPrefix("bytes 0-8191/"))
            let whole = try await server.fetch(target)
            #expect(Array(whole.body.prefix(8192)) == head.body)
            let after = try await server.fetch(target, headers: [("Range", "bytes=-1000")])
            #expect(after.status == 206)
            #expect(after.body == Array(whole.body.suffix(1000)))
            #expect(after.header("Content-Range") == "bytes \(whole.body.count - 1000)-\(whole.body.count - 1)/\(whole.body.count)")
        }
    }

    @Test func aRangeBeyondWhatIsProducedWaitsThenAnswers503() async throws {
        try await TestServer.with(configure: { $0.limits.liveRangeWaitSeconds = 0 }) { server in
            let target = server.sign("/tracks/solo_96kbps.ogg")
            let early = try await server.fetch(target, headers: [("Range", "bytes=5000000-5000100")])
            #expect(early.status == 503)
            #expect(early.header("Retry-After") == "1")
            #expect(early.bodyText == #"{"error":"transcode_in_progress"}"#)
            // Once the encode is done the same range is simply unsatisfiable.
            let whole = try await server.fetch(target)
            #expect(whole.status == 200)
            let late = try await server.fetch(target, headers: [("Range", "bytes=5000000-5000100")])
            #expect(late.status == 416)
            #expect(late.header("Content-Range") == "bytes */\(whole.body.count)")
        }
    }

    @Test func corruptSourcesGiveAClearErrorAndNoCrash() async throws {
        try await TestServer.with { server in
            for name in ["broken_160kbps.ogg", "brokenr_96kbps.ogg"] {
                let r = try await server.fetch(server.sign("/tracks/" + name))
                #expect(r.status == 502, "\(name)")
                #expect(r.header("Content-Type") == "application/json")
                #expect(r.bodyText.contains("corrupt") || r.bodyText.contains("unsupported") || r.bodyText.contains("unreadable"), "\(r.bodyText)")
                let again = try await server.fetch(server.sign("/tracks/" + name))
                #expect(again.status == 502, "\(name) second request")
            }
            #expect(try await server.fetch(server.sign("/tracks/nothing_160kbps.ogg")).status == 404)
            #expect(try await server.fetch("/healthz").status == 200)
        }
    }
}
