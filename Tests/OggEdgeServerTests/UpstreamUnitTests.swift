import Foundation
import OggEdgeCore
import OggEdgeDelivery
import OggEdgeServer
@testable import OggEdgeUpstream
import Testing

/// The parent tier's pure parts: judging a parent's answer, rendezvous order and its bound,
/// parent URLs and the upstream settings.
struct UpstreamUnitTests {
    @Test func parentAnswersThatDoNotAddUpAreRefused() {
        let asked = ByteRange(start: 0, end: 262_143)
        func headers(_ pairs: [String: String]) -> (String) -> String? { { name in pairs.first { $0.key.lowercased() == name.lowercased() }?.value } }
        let good = ParentAnswer.evaluate(
            status: 206, header: headers(["Content-Range": "bytes 0-99999/100000", "ETag": "\"abc\"", "X-Content-Duration": "12.5"]),
            requested: asked, expecting: nil
        )
        guard case .success(let accepted) = good else { Issue.record("\(good)"); return }
        #expect(accepted.facts.length == 100_000)
        #expect(accepted.facts.etag == "abc")
        #expect(accepted.facts.durationMillis == 12_500)
        #expect(accepted.range == ByteRange(start: 0, end: 99_999))
        let hostile: [(Int, [String: String])] = [
            (206, [:]),
            (206, ["Content-Range": "bytes 5-99999/100000"]),
            (206, ["Content-Range": "bytes 0-99998/100000"]),
            (206, ["Content-Range": "bytes 0-99999/*"]),
            (206, ["Content-Range": "bytes 0-99999/99999"]),
            (206, ["Content-Range": "bytes 0-99999/100000", "Content-Length": "5"]),
            (206, ["Content-Range": "bytes 0-999999999999999999999/100000"]),
            (200, [:]),
            (302, ["Location": "/elsewhere"]),
            (403, [:]),
            (503, [:]),
        ]
        for (status, pairs) in hostile {
            let verdict = ParentAnswer.evaluate(status: status, header: headers(pairs), requested: asked, expecting: nil)
            guard case .failure(.failed) = verdict else { Issue.record("\(status) \(pairs) → \(verdict)"); continue }
        }
        let facts = accepted.facts
        let changed = ParentAnswer.evaluate(
            status: 206, header: headers(["Content-Range": "bytes 0-99999/100000", "ETag": "\"other\""]), requested: asked, expecting: facts
        )
        #expect(changed == .failure(.changed))
        #expect(ParentAnswer.evaluate(status: 412, header: headers([:]), requested: asked, expecting: facts) == .failure(.changed))
        #expect(ParentAnswer.evaluate(status: 404, header: headers([:]), requested: asked, expecting: nil) == .failure(.notFound))
        #expect(ParentAnswer.parseDuration("-1") == nil)
        #expect(ParentAnswer.parseDuration("1e9") == nil)
        #expect(ParentAnswer.parseDuration("99999999999") == nil)
    }

    @Test func rendezvousSpreadsTracksEvenlyAndLosingAParentMovesOnlyItsTracks() throws {
        let urls = (0..<5).map { "http://10.0.0.\($0 + 1):8080" }
        let pool = ParentPool(parents: try urls.map { try ParentEndpoint(parsing: $0) }, coolDown: .seconds(1))
        var load = [Int](repeating: 0, count: urls.count)
        var firstChoice: [String: Int] = [:]
        for i in 0..<50_000 {
            let id = "track\(i)"
            let order = pool.rendezvous(for: id)
            load[order[0]] += 1
            firstChoice[id] = order[0]
        }
        let mean = 50_000.0 / Double(urls.count)
        #expect(Double(load.max()!) / mean < 1.05, "\(load)")
        // Parent 2 fails: its tracks go to their second choice, every other track stays.
        pool.failed(2, now: 1)
        var moved = 0
        for (id, was) in firstChoice.prefix(5_000) {
            let now = pool.order(for: id, now: 2)[0]
            if was == 2 { #expect(now != 2) } else { #expect(now == was) }
            if now != was { moved += 1 }
        }
        #expect(moved > 0)
    }

    @Test func aParentPastItsShareOfBodiesInFlightGivesItsTurnToTheNext() throws {
        let pool = ParentPool(parents: try (1...3).map { try ParentEndpoint(parsing: "http://10.0.0.\($0):80") }, coolDown: .seconds(1))
        let track = "hot"
        let first = pool.rendezvous(for: track)[0]
        #expect(pool.order(for: track, now: 1)[0] == first)
        for _ in 0..<16 { pool.began(first) }
        // 16 bodies on one parent, none elsewhere: past max(16, 2 × mean) → the next parent first.
        #expect(pool.order(for: track, now: 1)[0] == pool.rendezvous(for: track)[1])
        #expect(pool.order(for: track, now: 1).count == 3)
        pool.ended(first)
        #expect(pool.order(for: track, now: 1)[0] == first)
    }

    @Test func parentURLsAreValidated() {
        #expect(throws: ParentEndpoint.InvalidURL.self) { try ParentEndpoint(parsing: "https://x") }
        #expect(throws: ParentEndpoint.InvalidURL.self) { try ParentEndpoint(parsing: "http://h:99999") }
        #expect(throws: ParentEndpoint.InvalidURL.self) { try ParentEndpoint(parsing: "http://u@h/") }
        #expect(throws: ParentEndpoint.InvalidURL.self) { try ParentEndpoint(parsing: "http://h/x?y") }
        #expect((try? ParentEndpoint(parsing: "http://127.0.0.1:8080/media/"))?.description == "http://127.0.0.1:8080/media")
        #expect((try? ParentEndpoint(parsing: "http://[::1]:81"))?.origin == "http://[::1]:81")
        #expect((try? ParentEndpoint.parseList(" http://a:1 , http://b:2,"))?.count == 2)
    }

    @Test func upstreamSettingsComeFromFlagsEnvironmentAndTheConfigFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/c.json"
        try Data(#"{"upstream": ["http://p1:8080", "http://p2:8080/base/"], "upstream-negative-ttl": 7, "upstream-stall-timeout-ms": 900}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        var env = ConfigurationTests.keys
        env["OGGEDGE_UPSTREAM_REVALIDATE"] = "60"
        let config = try ConfigurationLoader.load(flags: [:], environment: env, configFile: file)
        #expect(config.upstreams == ["http://p1:8080", "http://p2:8080/base"])
        #expect(config.upstreamRevalidateSeconds == 60)
        #expect(config.upstreamNegativeTTLSeconds == 7)
        #expect(config.upstreamOptions.stallTimeout == .milliseconds(900))
        let flagged = try ConfigurationLoader.load(
            flags: ["upstream": "http://127.0.0.1:9000", "upstream-revalidate": "5"], environment: env, configFile: file
        )
        #expect(flagged.upstreams == ["http://127.0.0.1:9000"])
        #expect(flagged.upstreamRevalidateSeconds == 5)
        let defaults = try ConfigurationLoader.load(flags: [:], environment: ConfigurationTests.keys, configFile: nil)
        #expect(defaults.upstreams.isEmpty)
        #expect(defaults.upstreamRevalidateSeconds == 300)
        #expect(defaults.upstreamNegativeTTLSeconds == 10)
        for bad in ["ftp://x", "https://secure:443", "http://", "http://h:0", "http://h/?q"] {
            do {
                _ = try ConfigurationLoader.load(flags: ["upstream": bad], environment: ConfigurationTests.keys, configFile: nil)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(!error.description.contains("\n"))
                #expect(error.description.hasPrefix("upstream "))
            }
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(flags: ["upstream-revalidate": "-1"], environment: ConfigurationTests.keys, configFile: nil)
        }
    }
}
