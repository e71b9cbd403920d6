/// The `session` cookie of a request (RFC 6265 §4.2: `name=value` pairs separated by `; `).
enum SessionCookie {
    /// What the `Cookie` headers say about the session.
    enum Lookup: Equatable {
        /// No `session` cookie, or an empty one.
        case absent
        /// A `session` cookie whose value is not a usable id (too long, or bytes outside
        /// RFC 6265's `cookie-octet`).
        case malformed
        /// The session id.
        case id(String)
    }

    /// Longest session id accepted.
    static let maxLength = 256

    /// Finds `session=` among all `Cookie` header values (the first one wins).
    static func find(in cookieHeaders: [String]) -> Lookup {
        for header in cookieHeaders {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                guard trimmed[..<eq].trimmingSuffixSpaces() == "session" else { continue }
                var value = trimmed[trimmed.index(after: eq)...].trimmingSuffixSpaces()
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                if value.isEmpty { return .absent }
                guard value.utf8.count <= maxLength, value.utf8.allSatisfy(isCookieOctet) else { return .malformed }
                return .id(String(value))
            }
        }
        return .absent
    }

    /// RFC 6265 `cookie-octet`: visible ASCII except `"`, `,`, `;` and `\`.
    static func isCookieOctet(_ c: UInt8) -> Bool {
        c == 0x21 || (0x23...0x2B).contains(c) || (0x2D...0x3A).contains(c) || (0x3C...0x5B).contains(c) || (0x5D...0x7E).contains(c)
    }
}

extension Substring {
    fileprivate func trimmingSuffixSpaces() -> Substring {
        var s = self
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
