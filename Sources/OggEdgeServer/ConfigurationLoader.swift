import Foundation
import OggEdgeCore
import OggEdgeUpstream

/// Merges settings with the precedence flags > environment > config file > defaults.
///
/// Every setting has one name used in all three places: the flag `--cache-dir`, the environment
/// variable `OGGEDGE_CACHE_DIR` and the config-file key `cache-dir` (a flat JSON object).
public enum ConfigurationLoader {
    /// The settings and how each maps onto ``OriginConfiguration``.
    public static let settingNames: [String] = [
        "host", "port", "media", "cache-dir", "cache-max-bytes", "delivery-log", "upstream",
        "signing-keys", "admin-token", "clock-skew-seconds", "max-connections", "redis-url", "redis-stream",
        "delivery-log-rotate-bytes", "revalidate-ms", "live-wait-seconds", "fast-lane",
        "upstream-revalidate", "upstream-negative-ttl", "upstream-connect-timeout-ms", "upstream-first-byte-timeout-ms",
        "upstream-stall-timeout-ms", "upstream-slice-chunks",
    ] + PlayerSettings.settingNames

    /// The environment variable for a setting: `cache-dir` → `OGGEDGE_CACHE_DIR`.
    public static func environmentName(_ setting: String) -> String {
        "OGGEDGE_" + setting.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Loads the configuration.
    /// - Parameters:
    ///   - flags: settings given on the command line, by setting name.
    ///   - environment: the process environment.
    ///   - configFile: path of a JSON config file (`--config`, else `OGGEDGE_CONFIG`), if any.
    public static func load(
        flags: [String: String], environment: [String: String], configFile: String?
    ) throws(ConfigurationError) -> OriginConfiguration {
        var file: [String: String] = [:]
        if let path = configFile ?? environment["OGGEDGE_CONFIG"] {
            file = try readFile(path)
        }
        return try load(flags: flags, environment: environment, file: file)
    }

    /// Loads the configuration from settings already read from a config file (``parseFile(_:path:)``).
    static func load(
        flags: [String: String], environment: [String: String], file: [String: String]
    ) throws(ConfigurationError) -> OriginConfiguration {
        func value(_ name: String) -> String? {
            flags[name] ?? environment[environmentName(name)] ?? file[name]
        }
        guard let keysText = value("signing-keys"), !keysText.isEmpty else {
            throw ConfigurationError("no signing keys: set OGGEDGE_SIGNING_KEYS=kid:BASE64SECRET (see `oggedge keygen`)")
        }
        let keys: KeyRing
        do { keys = try KeyRing(parsing: keysText) } catch { throw ConfigurationError("OGGEDGE_SIGNING_KEYS: \(error)") }
        var config = OriginConfiguration(keys: keys)
        if let v = value("host") {
            guard !v.isEmpty else { throw ConfigurationError("host must not be empty") }
            config.host = v
        }
        if let v = value("port") { config.port = try integer(v, "port", in: 0...65535) }
        if let v = value("media") { config.mediaDirectory = try nonEmpty(v, "media") }
        if let v = value("cache-dir") { config.cacheDirectory = try nonEmpty(v, "cache-dir") }
        if let v = value("cache-max-bytes") { config.cacheMaxBytes = Int64(try integer(v, "cache-max-bytes", in: 0...Int.max)) }
        if let v = value("delivery-log") { config.deliveryLogPath = v.isEmpty || v == "off" ? nil : v }
        if let v = value("upstream") {
            do {
                config.upstreams = try ParentEndpoint.parseList(v).map(\.description)
            } catch {
                throw ConfigurationError(error.description)
            }
        }
        if let v = value("upstream-revalidate") {
            config.upstreamRevalidateSeconds = Int64(try integer(v, "upstream-revalidate", in: 0...604_800))
        }
        if let v = value("upstream-negative-ttl") {
            config.upstreamNegativeTTLSeconds = Int64(try integer(v, "upstream-negative-ttl", in: 0...86_400))
        }
        if let v = value("upstream-connect-timeout-ms") {
            config.upstreamOptions.connectTimeout = .milliseconds(try integer(v, "upstream-connect-timeout-ms", in: 1...600_000))
        }
        if let v = value("upstream-first-byte-timeout-ms") {
            config.upstreamOptions.firstByteTimeout = .milliseconds(try integer(v, "upstream-first-byte-timeout-ms", in: 1...600_000))
        }
        if let v = value("upstream-stall-timeout-ms") {
            config.upstreamOptions.stallTimeout = .milliseconds(try integer(v, "upstream-stall-timeout-ms", in: 1...600_000))
        }
        if let v = value("upstream-slice-chunks") {
            config.upstreamOptions.sliceChunks = try integer(v, "upstream-slice-chunks", in: 1...64)
        }
        if let v = value("redis-url") { config.redisURL = v.isEmpty ? nil : v }
        if let v = value("redis-stream") { config.redisStream = try nonEmpty(v, "redis-stream") }
        if let v = value("delivery-log-rotate-bytes") {
            config.deliveryLogRotateBytes = Int64(try integer(v, "delivery-log-rotate-bytes", in: 0...Int.max))
        }
        if let v = value("admin-token") { config.adminToken = v.isEmpty ? nil : v }
        if let v = value("clock-skew-seconds") { config.clockSkewLeewaySeconds = Int64(try integer(v, "clock-skew-seconds", in: 0...86_400)) }
        if let v = value("revalidate-ms") { config.revalidateMilliseconds = Int64(try integer(v, "revalidate-ms", in: 0...86_400_000)) }
        if let v = value("live-wait-seconds") { config.limits.liveRangeWaitSeconds = Int64(try integer(v, "live-wait-seconds", in: 0...300)) }
        if let v = value("fast-lane") {
            switch v.trimmingCharacters(in: .whitespaces).lowercased() {
            case "on", "1", "true": config.fastLane = true
            case "off", "0", "false": config.fastLane = false
            default: throw ConfigurationError("fast-lane must be on or off, got '\(v.prefix(40))'")
            }
        }
        if let v = value("max-connections") { config.limits.maxConnections = try integer(v, "max-connections", in: 1...1_000_000) }
        try config.player.load(value)
        try config.player.validate(host: config.host, redisURL: config.redisURL)
        return config
    }

    static func integer(_ text: String, _ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
            throw ConfigurationError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text.prefix(40))'")
        }
        return n
    }

    static func nonEmpty(_ text: String, _ name: String) throws(ConfigurationError) -> String {
        guard !text.isEmpty else { throw ConfigurationError("\(name) must not be empty") }
        return text
    }

    static func readFile(_ path: String) throws(ConfigurationError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read config file \(path)")
        }
        return try parseFile(data, path: path)
    }

    /// The settings of a config file's bytes (a flat JSON object); `path` only names it in errors.
    static func parseFile(_ data: Data, path: String) throws(ConfigurationError) -> [String: String] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigurationError("config file \(path) is not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw ConfigurationError("config file \(path) must be a JSON object")
        }
        var out: [String: String] = [:]
        for (key, raw) in dict {
            guard settingNames.contains(key) else {
                throw ConfigurationError("config file \(path): unknown setting '\(key)' (known: \(settingNames.joined(separator: ", ")))")
            }
            switch raw {
            case let s as String: out[key] = s
            case let n as NSNumber: out[key] = n.stringValue
            case let a as [Any]: out[key] = a.compactMap { $0 as? String }.joined(separator: ",")
            default: throw ConfigurationError("config file \(path): setting '\(key)' must be a string or number")
            }
        }
        return out
    }
}
