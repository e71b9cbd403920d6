/// One parent tier, parsed from `http://HOST[:PORT][/PREFIX]`: renditions are fetched from
/// `{URL}/tracks/{trackId}_{kbps}kbps.ogg`, its health from `{URL}/readyz`.
public struct ParentEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address (an IPv6 literal without brackets).
    public let host: String
    /// TCP port.
    public let port: Int
    /// Path prefix without a trailing slash (empty for the root).
    public let pathPrefix: String

    /// Why a parent URL was refused.
    public struct InvalidURL: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses a parent URL: `http` only, no user info, query or fragment.
    public init(parsing text: String) throws(InvalidURL) {
        func invalid(_ why: String) -> InvalidURL { InvalidURL(description: "upstream '\(text.prefix(200))': \(why)") }
        guard text.lowercased().hasPrefix("http://") else { throw invalid("must be an http:// URL") }
        let rest = text.dropFirst("http://".count)
        guard !rest.contains(where: { $0 == "?" || $0 == "#" || $0 == "@" || $0 == " " || $0 == "\\" }) else {
            throw invalid("must not carry a query, fragment, user info or spaces")
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var prefix = String(rest[slash...])
        while prefix.hasSuffix("/") { prefix.removeLast() }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("bad IPv6 literal") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("bad port") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty, host.utf8.count <= 253 else { throw invalid("missing host") }
        var port = 80
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw invalid("port must be 1...65535") }
            port = p
        }
        self.host = String(host)
        self.port = port
        self.pathPrefix = prefix
    }

    /// `http://host:port` (IPv6 in brackets).
    public var origin: String {
        host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }

    public var description: String { origin + pathPrefix }

    /// Parses a comma-separated list (the `--upstream` value); empty items are skipped.
    public static func parseList(_ text: String) throws(InvalidURL) -> [ParentEndpoint] {
        var out: [ParentEndpoint] = []
        for item in text.split(separator: ",") {
            let trimmed = String(item.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
            guard !trimmed.isEmpty else { continue }
            out.append(try ParentEndpoint(parsing: trimmed))
        }
        return out
    }
}

