import Foundation
import OggEdgeCore
import OggEdgeRedis
@testable import OggEdgeServer
import OggEdgeTesting
import Testing

/// Playback events and the 30-second stream count: exactly once per play under duplicated,
/// reordered and retried events, two replicas sharing one Redis, and a Redis restart.
@Suite(.serialized) struct StreamCountingTests {
    /// One simulated play: its events in the order a player sends them.
    struct Play {
        let playId: String
        let track: String
        let reaches30s: Bool
        func events(url: String) -> [String] {
            var list = [Self.event(id: "\(playId):0", type: "start", play: playId, url: url, position: 0, tap: 120)]
            let positions = reaches30s ? [15_000, 30_000, 45_000] : [15_000, 29_999]
            for (i, p) in positions.enumerated() {
                list.append(Self.event(id: "\(playId):\(i + 1)", type: "progress", play: playId, url: url, position: p))
            }
            list.append(reaches30s
                ? Self.event(id: "\(playId):9", type: "complete", play: playId, url: url, position: 60_000)
                : Self.event(id: "\(playId):9", type: "skip", play: playId, url: url, position: 29_999))
            return list
        }

        static func event(id: String, type: String, play: String, url: String, position: Int, tap: Double? = nil) -> String {
            var body = #"{"event_id":"\#(id)","event_type":"\#(type)","play_id":"\#(play)","url":"\#(url)","position_ms":\#(position)"#
            if let tap { body += #","tap_to_playing_ms":\#(tap)"# }
            return body + "}"
        }
    }

    @Test func eachPlayCountsOnceAcrossDuplicatesReorderingRetriesTwoReplicasAndARedisRestart() async throws {
        let redis = try await offload { try RedisTestServer() }
        defer { Thread { redis.stop() }.start() }  // never block the cooperative pool
        try await PlayerHarness.with(redis: redis) { h in
            // The replica ships its delivery records to its own stream, as each node should.
            try await TestServer.with(configure: { $0.redisURL = h.redisURL; $0.redisStream = "oggedge:replica" }) { replica in
                let tracks = ["demo", "onlyhi", "tiny"]
                var plays: [Play] = []
                for i in 0..<100 {
                    plays.append(Play(playId: "play-\(i)", track: tracks[i % 3], reaches30s: i % 4 != 0))
                }
                var expected: [String: Int] = [:]
                for play in plays where play.reaches30s { expected[play.track, default: 0] += 1 }
                var rng = SystemRandomNumberGenerator()
                func batch(_ slice: ArraySlice<Play>) -> [String] {
                    var events: [String] = []
                    for play in slice {
                        let url = h.server.sign("/tracks/\(play.track)_160kbps.ogg", uid: "listener")
                        let list = play.events(url: url)
                        events += list
                        events += list.shuffled(using: &rng).prefix(2)  // retries of the same event ids
                        // The same progress again under a new event id (a player that lost the answer).
                        events.append(Play.event(id: "\(play.playId):r", type: "progress", play: play.playId, url: url, position: play.reaches30s ? 31_000 : 20_000))
                    }
                    return events.shuffled(using: &rng)
                }
                func send(_ events: [String]) async throws {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for (i, body) in events.enumerated() {
                            if i >= 16 { _ = try await group.next() }
                            group.addTask { try await h.post(body, to: i % 2 == 0 ? h.server : replica).status }
                        }
                        while let status = try await group.next() { #expect(status == 202 || status == 200) }
                    }
                }
                try await send(batch(plays[0..<50]))
                // Redis goes away (its data saved, as a production Redis keeps it) with plays in flight.
                await offload { redis.stop(save: true) }
                try await send(batch(plays[40..<80]))
                try await offload { try redis.start() }
                try await send(batch(plays[60..<100]))
                let c = try redis.connection()
                let settled = await eventually {
                    guard case .array(let flat) = try c.command(["HGETALL", StreamCounter.hashKey]) else { return false }
                    var counts: [String: Int] = [:]
                    for i in stride(from: 0, to: flat.count - 1, by: 2) { counts[flat[i].text ?? ""] = Int(flat[i + 1].text ?? "") }
                    return counts == expected
                }
                #expect(settled)
                let answer = try h.json(try await h.admin("/admin/streams"))
                #expect(answer.mapValues { $0 as? Int } == expected.mapValues { Optional($0) })
                let one = try h.json(try await h.admin("/admin/streams?track=demo", on: replica))
                #expect(one["demo"] as? Int == expected["demo"])
            }
        }
    }

    @Test func everyAcceptedEventGoesToThePlaybackStream() async throws {
        try await PlayerHarness.with { h in
            let url = h.server.sign("/tracks/demo_160kbps.ogg", uid: "u9")
            let bodies = Play(playId: "only", track: "demo", reaches30s: true).events(url: url)
            for body in bodies { #expect(try await h.post(body).status == 202) }
            #expect(try await h.post(bodies[2]).status == 200)  // a repeat is not recorded again
            let c = try h.redis.connection()
            #expect(await eventually { try c.xlen("oggedge:delivery:playback") == Int64(bodies.count) })
            let entries = try c.xrange("oggedge:delivery:playback")
            #expect(entries.map { $0.value("event_type") } == ["start", "progress", "progress", "progress", "complete"])
            #expect(entries.allSatisfy { $0.value("play_id") == "only" && $0.value("uid") == "u9" && $0.value("track") == "demo" })
            // Any number of consumer groups can read it.
            _ = try c.command(["XGROUP", "CREATE", "oggedge:delivery:playback", "royalties", "0"])
            _ = try c.command(["XGROUP", "CREATE", "oggedge:delivery:playback", "analytics", "0"])
            for group in ["royalties", "analytics"] {
                guard case .array(let streams) = try c.command(["XREADGROUP", "GROUP", group, "c1", "COUNT", "100", "STREAMS", "oggedge:delivery:playback", ">"]),
                      case .array(let pair) = streams.first, case .array(let read) = pair.last
                else { Issue.record("XREADGROUP reply"); continue }
                #expect(read.count == bodies.count)
            }
            #expect(try h.json(try await h.admin("/admin/streams?track=demo"))["demo"] as? Int == 1)
            #expect(try h.json(try await h.admin("/admin/streams?track=tiny"))["tiny"] as? Int == 0)
        }
    }

    @Test func eventFieldsAreCheckedOneByOne() async throws {
        try await PlayerHarness.with { h in
            let url = h.server.sign("/tracks/demo_160kbps.ogg")
            func post(_ fields: String) async throws -> TestResponse {
                try await h.post(#"{"event_id":"e-\#(UUID().uuidString)","url":"\#(url)",\#(fields)}"#)
            }
            let cases: [(String, Int, String)] = [
                (#""event_type":"rewind","play_id":"p","position_ms":1"#, 400, "invalid_event_type"),
                (#""event_type":7,"play_id":"p","position_ms":1"#, 400, "invalid_event_type"),
                (#""event_type":"progress","position_ms":1"#, 400, "invalid_play_id"),
                (#""event_type":"progress","play_id":"a b","position_ms":1"#, 400, "invalid_play_id"),
                (#""event_type":"progress","play_id":"p","stall_count":0"#, 400, "invalid_position_ms"),
                (#""event_type":"seek","play_id":"p","position_ms":-1"#, 400, "invalid_position_ms"),
                (#""event_type":"complete","play_id":"p","position_ms":true"#, 400, "invalid_position_ms"),
                (#""play_id":"p","position_ms":0"#, 400, "invalid_tap_to_playing_ms"),
                (#""event_type":"progress","play_id":"p","position_ms":1000"#, 202, "recorded"),
                (#""event_type":"skip","play_id":"p","position_ms":1000,"tap_to_playing_ms":5"#, 202, "recorded"),
                (#""tap_to_playing_ms":90"#, 202, "recorded"),
            ]
            for (fields, status, text) in cases {
                let r = try await post(fields)
                #expect(r.status == status, "\(fields): \(r.bodyText)")
                #expect(r.bodyText.contains(text), "\(fields): \(r.bodyText)")
            }
            #expect(try await h.admin("/admin/streams?track=..").status == 400)
            #expect(try await h.server.fetch("/admin/streams").status == 401)
        }
    }
}
