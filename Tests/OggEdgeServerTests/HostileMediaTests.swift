import AsyncHTTPClient
import Foundation
import NIOHTTP1
import OggEdgeDelivery
import OggEdgeServer
import OggEdgeTesting
import Testing

/// The hostile-media corpus (``HostileMedia``) in `tracks/` and `masters/` of a real server:
/// every request gets a clear answer (a JSON 4xx/5xx, or the right bytes when the file is
/// playable), failed transcodes are remembered, the process lives and other tracks keep playing.
@Suite(.serialized) struct HostileMediaTests {
    static let bitrates = [96, 160, 320]
    /// Statuses a broken source may end in; `5xx` only as documented (`502` bad source).
    static let allowed: Set<Int> = [200, 206, 404, 416, 502]

    @Test func everyCorpusFileGetsAClearAnswerAtEveryBitrateAndTheProcessLives() async throws {
        let (media, entries) = try HostileMedia.make()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            for entry in entries {
                for kbps in Self.bitrates {
                    try await Self.exercise(server, media: media, entry: entry, kbps: kbps)
                }
            }
            // Other tracks keep playing, byte for byte, and a good master still transcodes.
            let demo = try await server.fetch(server.sign("/tracks/demo_160kbps.ogg"))
            #expect(demo.status == 200)
            #expect(demo.body == TestMedia.bytes("demo_160kbps.ogg"))
            let solo = try await server.fetch(server.sign("/tracks/solo_96kbps.ogg"))
            #expect(solo.status == 200)
            #expect(TranscodeTests.ogginfo(solo.body).ok)
            #expect(try await server.fetch("/healthz").status == 200)
            // Every answer was logged, none of them a 500.
            let statuses = try await server.deliveryRecords().compactMap { $0["status"] as? Int }
            #expect(statuses.count >= entries.count * Self.bitrates.count * 4)
            #expect(!statuses.contains(500))
        }
    }

    @Test func aFailedTranscodeIsRememberedAndStartsNoSecondEncoder() async throws {
        let (media, _) = try HostileMedia.make()
        defer { try? FileManager.default.removeItem(atPath: media) }
        try await TestServer.with(configure: { $0.mediaDirectory = media }) { server in
            let target = server.sign("/tracks/mchan0_160kbps.ogg")
            let first = try await server.fetch(target)
            #expect(first.status == 502)
            let reason = try #require(Self.errorReason(first))
            let afterFirst = try await Self.stats(server, untilFailed: 1)
            #expect(afterFirst.started == 1)
            #expect(afterFirst.failed == 1)
            for _ in 0..<3 {
                let again = try await server.fetch(target)
                #expect(again.status == 502)
                #expect(Self.errorReason(again) == reason)
            }
            let ranged = try await server.fetch(target, headers: [("Range", "bytes=100-")])
            #expect(ranged.status == 502)
            let afterMore = try await Self.stats(server)
            #expect(afterMore.started == 1, "a remembered failure runs no encoder")
            #expect(afterMore.failed == 1)
            // A purge forgets the failure: the next request tries again (and fails again).
            let auth = [("Authorization", "Bearer test-admin-token")]
            #expect(try await server.fetch("/admin/cache/mchan0", method: .DELETE, headers: auth).status == 200)
            #expect(try await server.fetch(target).status == 502)
            let afterPurge = try await Self.stats(server, untilFailed: 2)
            #expect(afterPurge.started == 2)
            #expect(afterPurge.failed == 2)
        }
    }

    /// Full GET, `bytes=0-99`, `bytes=-100` and HEAD of one entry at one bitrate.
    static func exercise(_ server: TestServer, media: String, entry: HostileMedia.Entry, kbps: Int) async throws {
        let path = "/tracks/\(entry.id)_\(kbps)kbps.ogg"
        let target = server.sign(path)
        let file = Array(FileManager.default.contents(atPath: media + path) ?? Data())
        let asIs = entry.expectation == .servedAsIs && kbps == 320
        for (method, range) in [(HTTPMethod.GET, nil), (.GET, "bytes=0-99"), (.GET, "bytes=-100"), (.HEAD, nil)] as [(HTTPMethod, String?)] {
            let label = "\(method) \(path) \(range ?? "")"
            let r: TestResponse
            do {
                r = try await server.fetch(target, method: method, headers: range.map { [("Range", $0)] } ?? [])
            } catch {
                Issue.record("\(label): no clean answer: \(error)")
                continue
            }
            #expect(allowed.contains(r.status), "\(label) → \(r.status) \(r.bodyText.prefix(80))")
            if r.status >= 400 {
                #expect(r.header("Content-Type") == "application/json", "\(label)")
                if method == .GET { #expect(errorReason(r) != nil, "\(label): \(r.bodyText.prefix(80))") }
            }
            switch entry.expectation {
            case .notFound:
                #expect(r.status == 404, "\(label) → \(r.status)")
            case .refused:
                #expect(r.status >= 400, "\(label) → \(r.status)")
            case .servedAsIs where asIs:
                let want: [UInt8]? = switch (method, range) {
                case (.GET, nil): file
                case (.GET, "bytes=0-99"?): Array(file.prefix(100))
                case (.GET, _): Array(file.suffix(100))
                default: nil
                }
                #expect(r.status == (range == nil || method == .HEAD ? 200 : 206), "\(label) → \(r.status)")
                if let want { #expect(r.body == want, "\(label): not the file's bytes") }
            case .servedAsIs, .transcodeOrRefuse:
                // A transcode: a whole answer is a clean Ogg Vorbis stream, else a JSON 502.
                if r.status == 200, method == .GET {
                    let check = TranscodeTests.ogginfo(r.body)
                    #expect(check.ok, "\(label): \(check.output.prefix(300))")
                }
            }
        }
    }

    static func errorReason(_ r: TestResponse) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else { return nil }
        return object["error"] as? String
    }

    /// `/admin/stats`' encoder counts; with `untilFailed`, first waits (up to 30 s) for the
    /// directory's failure count to reach it: a failure is counted when the encode's session
    /// ends, which may be just after its `502` went out.
    static func stats(_ server: TestServer, untilFailed: UInt64 = 0) async throws -> (started: Int, failed: Int) {
        let directory = server.server.directory
        let reached = await eventually(timeout: .seconds(30)) { directory.encodesFailed >= untilFailed }
        try #require(reached, "the encoder failure was never counted")
        let r = try await server.fetch("/admin/stats", headers: [("Authorization", "Bearer test-admin-token")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return (object["encodes_started"] as? Int ?? -1, object["encodes_failed"] as? Int ?? -1)
    }
}
