/// A configuration problem with the Redis settings (bad URL, bad stream key, unusable spool directory).
public struct RedisConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// One line, meant for an operator: what was wrong and what was expected.
    public let description: String

    /// Creates an error with an operator-facing message.
    public init(_ description: String) {
        self.description = description
    }
}

/// Where the delivery-log stream lives: `redis://HOST[:PORT][/DB]`.
///
/// Only plain TCP without credentials is supported (this is what the contract names:
/// `OGGEDGE_REDIS_URL=redis://HOST:PORT[/DB]`). `rediss://` (TLS), `user:password@`,
/// query strings and fragments are refused with a clear error rather than ignored.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without the brackets).
    public let host: String
    /// TCP port, 1...65535 (default 6379).
    public let port: Int
    /// Logical database selected with `SELECT` after connecting (default 0).
    public let database: Int

    /// Creates an endpoint from parts. The values are validated like a parsed URL.
    public init(host: String, port: Int = 6379, database: Int = 0) throws(RedisConfigError) {
        guard !host.isEmpty else { throw RedisConfigError("Redis host is empty") }
        guard (1...65535).contains(port) else {
            throw RedisConfigError("Redis port \(port) is out of range 1...65535")
        }
        guard database >= 0 else { throw RedisConfigError("Redis database \(database) is negative") }
        self.host = host
        self.port = port
        self.database = database
    }

    /// Parses `redis://HOST:PORT[/DB]` (port default 6379, db default 0).
    ///
    /// Accepts `redis://host`, `redis://host:6380`, `redis://host:6380/2`, `redis://host/2`,
    /// a trailing `/`, and bracketed IPv6 hosts (`redis://[::1]:6379`).
    /// Throws ``RedisConfigError`` naming the problem for anything else.
    public init(url: String) throws(RedisConfigError) {
        let prefix = "redis://"
        guard url.lowercased().hasPrefix(prefix) else {
            if url.lowercased().hasPrefix("rediss://") {
                throw RedisConfigError("invalid Redis URL '\(url)': TLS (rediss://) is not supported, use redis://HOST:PORT[/DB]")
            }
            throw RedisConfigError("invalid Redis URL '\(url)': expected redis://HOST:PORT[/DB]")
        }
        var rest = Substring(url.dropFirst(prefix.count))
        func fail(_ why: String) -> RedisConfigError {
            RedisConfigError("invalid Redis URL '\(url)': \(why)")
        }
        if rest.contains("?") || rest.contains("#") { throw fail("query strings and fragments are not supported") }
        if rest.contains("@") { throw fail("credentials in the URL are not supported") }

        // Split off /DB.
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard dbText.allSatisfy(\.isASCII), dbText.allSatisfy(\.isNumber), dbText.count <= 6,
                      let db = Int(dbText) else {
                    throw fail("database '\(dbText)' is not a non-negative integer")
                }
                database = db
            }
        }

        // HOST[:PORT], with [v6]:PORT.
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("unterminated '[' in host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected '\(after)' after host") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            if portText?.contains(":") == true { throw fail("IPv6 hosts must be written in brackets") }
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw fail("host is empty") }
        guard host.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { throw fail("host contains invalid characters") }

        var port = 6379
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(portText) else {
                throw fail("port '\(portText)' is not a number")
            }
            guard (1...65535).contains(value) else { throw fail("port \(value) is out of range 1...65535") }
            port = value
        }
        try self.init(host: String(host), port: port, database: database)
    }

    /// `redis://host:port/db`, IPv6 hosts in brackets.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(shownHost):\(port)/\(database)"
    }
}
