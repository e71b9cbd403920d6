import Foundation
import OggEdgeServer
import Testing

/// `serve` settings: flag > environment > config file > default, and hostile values refused.
struct ConfigurationTests {
    static let keys = ["OGGEDGE_SIGNING_KEYS": TestServer.keysText]

    @Test func precedenceAndTheBytePathSettings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oggedge-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/c.json"
        try Data(#"{"port": 9000, "revalidate-ms": 250, "live-wait-seconds": 3, "media": "/srv/m"}"#.utf8).write(to: URL(fileURLWithPath: file))
        var env = Self.keys
        env["OGGEDGE_PORT"] = "9001"
        env["OGGEDGE_REVALIDATE_MS"] = "500"
        let config = try ConfigurationLoader.load(flags: ["port": "9002"], environment: env, configFile: file)
        #expect(config.port == 9002)
        #expect(config.revalidateMilliseconds == 500)
        #expect(config.limits.liveRangeWaitSeconds == 3)
        #expect(config.mediaDirectory == "/srv/m")
        let defaults = try ConfigurationLoader.load(flags: [:], environment: Self.keys, configFile: nil)
        #expect(defaults.revalidateMilliseconds == 1000)
        #expect(defaults.limits.liveRangeWaitSeconds == 10)
        #expect(defaults.fastLane)
        for (text, on) in [("off", false), ("0", false), ("FALSE", false), ("on", true), ("1", true)] {
            let c = try ConfigurationLoader.load(flags: [:], environment: Self.keys.merging(["OGGEDGE_FAST_LANE": text]) { $1 }, configFile: nil)
            #expect(c.fastLane == on, "\(text)")
        }
    }

    @Test(arguments: [
        ("OGGEDGE_REVALIDATE_MS", "-1"), ("OGGEDGE_REVALIDATE_MS", "1s"), ("OGGEDGE_LIVE_WAIT_SECONDS", "301"),
        ("OGGEDGE_LIVE_WAIT_SECONDS", "9223372036854775808"), ("OGGEDGE_PORT", "65536"),
        ("OGGEDGE_FAST_LANE", "maybe"), ("OGGEDGE_FAST_LANE", ""),
    ])
    func hostileValuesAreRefusedWithTheirName(name: String, value: String) {
        var env = Self.keys
        env[name] = value
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(flags: [:], environment: env, configFile: nil) }
    }
}
