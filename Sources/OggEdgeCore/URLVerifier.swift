import Crypto
import Foundation

/// Verifies signed audio URLs (contract "Audio URL"): HMAC-SHA256 over the raw request target
/// up to `&sig=` (only the query before `&sig=` for `acl` prefix tokens), constant-time
/// comparison, then expiry, not-before, client address, `acl` scope and bitrate checks.
///
/// An `acl` takes exactly one of three forms (see ``AccessScope``), anything else is `malformed`.
///
/// Reading rules beyond the contract: names are compared as sent (no decoding, case-sensitive);
/// parameters other than the seven listed are allowed and ignored (they are still signed);
/// every parameter needs a `=`; `+` is a literal plus, not a space. Never traps on any input.
public struct URLVerifier: Sendable {
    /// The keys that verify; the `kid` parameter picks one.
    public let keys: KeyRing
    /// Clock-skew allowance applied to `exp` and `st` (never negative).
    public let leewaySeconds: Int64

    /// Makes a verifier; a negative leeway counts as 0.
    public init(keys: KeyRing, leewaySeconds: Int64 = 30) {
        self.keys = keys
        self.leewaySeconds = max(0, leewaySeconds)
    }

    /// Checks one request. `target`: the raw request target as received (path + `?` + query).
    /// `path`: the percent-decoded request path. `clientIP`: the peer address text. `kbps`: the
    /// requested bitrate. `now`: Unix seconds. The first failing check (in ``AuthRefusal`` case
    /// order) is returned.
    public func verify(target: Substring, path: Substring, clientIP: Substring, kbps: Int, now: Int64) -> Result<Grant, AuthRefusal> {
        let query: SignedQuery
        switch SignedQuery.parse(target) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let parsed): query = parsed
        }
        guard let key = keys.key(for: Substring(query.kid)) else { return .failure(.unknownKey) }
        let message = Array(target[(query.acl == nil ? target.startIndex : query.queryStart)..<query.messageEnd].utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(query.signature, authenticating: message, using: SymmetricKey(data: key.secret)) else {
            return .failure(.badSignature)
        }
        if now > Self.saturatingAdd(query.expires, leewaySeconds) { return .failure(.expired) }
        if let notBefore = query.notBefore, Self.saturatingAdd(now, leewaySeconds) < notBefore {
            return .failure(.notYetValid)
        }
        if let ip = query.ip, !Self.sameAddress(Substring(ip), clientIP) { return .failure(.ipMismatch) }
        if let scope = query.scope, !scope.covers(path) { return .failure(.outsideAcl) }
        if let maxKbps = query.maxKbps, kbps > maxKbps { return .failure(.bitrateNotAllowed) }
        return .success(Grant(
            kid: key.kid, uid: query.uid, expires: query.expires, maxKbps: query.maxKbps, acl: query.acl,
            notBefore: query.notBefore, ip: query.ip
        ))
    }

    private static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    // MARK: - Query parsing

    /// The parameters of a signed target, decoded, with the positions the message needs.
    struct SignedQuery {
        var queryStart: String.Index
        var messageEnd: String.Index
        var expires: Int64 = 0
        var kid = ""
        var uid: String?
        var ip: String?
        var notBefore: Int64?
        var acl: String?
        var scope: AccessScope?
        var maxKbps: Int?
        var signature: [UInt8] = []

        static func parse(_ target: Substring) -> Result<SignedQuery, AuthRefusal> {
            let bytes = target.utf8
            guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return .failure(.missingSignature) }
            let queryStart = bytes.index(after: mark)
            // Split the query into (name, value) by '&' and the first '='.
            var params: [(start: String.Index, name: Substring, value: Substring?)] = []
            var segmentStart = queryStart
            var index = queryStart
            while true {
                if index == bytes.endIndex || bytes[index] == UInt8(ascii: "&") {
                    let segment = target[segmentStart..<index]
                    if let eq = segment.utf8.firstIndex(of: UInt8(ascii: "=")) {
                        params.append((segmentStart, segment[..<eq], segment[segment.utf8.index(after: eq)...]))
                    } else {
                        params.append((segmentStart, segment, nil))
                    }
                    if index == bytes.endIndex { break }
                    segmentStart = bytes.index(after: index)
                }
                index = bytes.index(after: index)
            }
            guard params.contains(where: { $0.name.utf8.elementsEqual("sig".utf8) }) else { return .failure(.missingSignature) }
            guard let last = params.last, last.name.utf8.elementsEqual("sig".utf8), let sigText = last.value, params.count >= 2 else {
                return .failure(.malformed)
            }
            var query = SignedQuery(queryStart: queryStart, messageEnd: bytes.index(before: last.start))
            var seen: Set<[UInt8]> = [Array("sig".utf8)] // a second `sig` is a duplicate
            var hasExpires = false
            for param in params.dropLast() {
                let name = Array(param.name.utf8)
                guard !name.isEmpty, let raw = param.value, seen.insert(name).inserted,
                      let value = percentDecoded(raw) else { return .failure(.malformed) }
                // Names are compared byte for byte (no Unicode equivalence).
                switch name.allSatisfy({ $0 < 0x80 }) ? String(decoding: name, as: UTF8.self) : "" {
                case "exp":
                    guard let n = integer(value) else { return .failure(.malformed) }
                    query.expires = n
                    hasExpires = true
                case "kid": query.kid = value
                case "uid": query.uid = value
                case "ip": query.ip = value
                case "st":
                    guard let n = integer(value) else { return .failure(.malformed) }
                    query.notBefore = n
                case "acl":
                    guard let scope = AccessScope(value) else { return .failure(.malformed) }
                    query.acl = value
                    query.scope = scope
                case "maxkbps":
                    guard let n = integer(value), let k = Int(exactly: n) else { return .failure(.malformed) }
                    query.maxKbps = k
                default: break
                }
            }
            guard hasExpires, !query.kid.isEmpty, let signature = Base64URL.decode(sigText), signature.count == 32 else {
                return .failure(.malformed)
            }
            query.signature = signature
            return .success(query)
        }

        /// Decodes `%XX` escapes; nil for a bad escape or a result that is not UTF-8.
        static func percentDecoded(_ s: Substring) -> String? {
            var out: [UInt8] = []
            out.reserveCapacity(s.utf8.count)
            var it = s.utf8.makeIterator()
            while let c = it.next() {
                if c != UInt8(ascii: "%") {
                    out.append(c)
                    continue
                }
                guard let hi = it.next().flatMap(hexValue), let lo = it.next().flatMap(hexValue) else { return nil }
                out.append(hi << 4 | lo)
            }
            let text = String(decoding: out, as: UTF8.self)
            return text.utf8.elementsEqual(out) ? text : nil
        }

        static func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }

        /// `-?[0-9]{1,19}` within Int64 range, else nil (no `+`, spaces or other forms).
        static func integer(_ s: String) -> Int64? {
            let digits = s.utf8.first == UInt8(ascii: "-") ? s.utf8.dropFirst() : s.utf8[...]
            guard (1...19).contains(digits.count),
                  digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
            return Int64(s)
        }
    }

    // MARK: - acl

    /// What a percent-decoded `acl` covers. Exactly three forms are accepted:
    /// `/tracks/` (every rendition), `/tracks/{trackId}_` (every rendition of that track: the
    /// rest of the path must be exactly `{kbps}kbps.ogg`, so `/tracks/abc_` never covers
    /// `/tracks/abc_x_96kbps.ogg`), or one whole rendition path `/tracks/{trackId}_{kbps}kbps.ogg`.
    enum AccessScope: Equatable {
        /// `/tracks/`.
        case everyRendition
        /// `/tracks/{trackId}_`.
        case track(String)
        /// `/tracks/{trackId}_{kbps}kbps.ogg`.
        case rendition(TrackPath)

        /// Reads one of the three forms; nil for anything else.
        init?(_ acl: String) {
            // Byte comparisons throughout: no Unicode equivalence, no grapheme clusters.
            let bytes = Array(acl.utf8)
            let prefix = Array("/tracks/".utf8)
            if bytes == prefix {
                self = .everyRendition
            } else if case .success(let rendition) = TrackPath.parse(Substring(acl)) {
                self = .rendition(rendition)
            } else if bytes.count > prefix.count + 1, bytes.starts(with: prefix), bytes.last == UInt8(ascii: "_"),
                      case let id = String(decoding: bytes[prefix.count..<(bytes.count - 1)], as: UTF8.self),
                      TrackPath.isValidTrackId(Substring(id)) {
                self = .track(id)
            } else {
                return nil
            }
        }

        /// Whether the request path (a rendition path) falls under this scope.
        func covers(_ path: Substring) -> Bool {
            guard case .success(let requested) = TrackPath.parse(path) else { return false }
            switch self {
            case .everyRendition: return true
            case .track(let id): return requested.trackId == id
            case .rendition(let rendition): return requested == rendition
            }
        }
    }

    // MARK: - Addresses

    /// Whether two address texts name the same host: IPv4 and IPv6 are compared as bytes
    /// (so `::ffff:1.2.3.4` equals `1.2.3.4`, `[::1]` equals `::1`, and hex case or zero
    /// compression do not matter); anything unparsable must match exactly.
    static func sameAddress(_ a: Substring, _ b: Substring) -> Bool {
        if let x = addressBytes(a), let y = addressBytes(b) { return x == y }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// 4 bytes for IPv4 or IPv4-mapped IPv6, 16 for other IPv6, nil for anything else.
    static func addressBytes(_ text: Substring) -> [UInt8]? {
        var bytes = Array(text.utf8)
        if bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") {
            bytes = Array(bytes.dropFirst().dropLast())
        }
        if let v4 = ipv4(bytes[...]) { return v4 }
        guard let v6 = ipv6(bytes) else { return nil }
        if v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xFF, v6[11] == 0xFF { return Array(v6[12...]) }
        return v6
    }

    /// Dotted quad, each part 0-255 without leading zeros.
    private static func ipv4(_ b: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = b.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
            let n = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard n <= 255 else { return nil }
            out.append(UInt8(n))
        }
        return out
    }

    /// RFC 4291 text form (with `::` and an optional dotted-quad tail); no zone ids.
    private static func ipv6(_ b: [UInt8]) -> [UInt8]? {
        let colon = UInt8(ascii: ":")
        guard (2...45).contains(b.count) else { return nil }
        var groups: [UInt16] = []
        var gap: Int?
        var i = 0
        if b[0] == colon {
            guard b[1] == colon else { return nil }
            gap = 0
            i = 2
        }
        while i < b.count {
            let rest = b[i...]
            if rest.contains(UInt8(ascii: ".")) && !rest.contains(colon) {
                guard let v4 = ipv4(rest) else { return nil }
                groups.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                groups.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                break
            }
            var value: UInt16 = 0
            var digits = 0
            while i < b.count, let h = SignedQuery.hexValue(b[i]) {
                guard digits < 4 else { return nil }
                value = value << 4 | UInt16(h)
                digits += 1
                i += 1
            }
            guard digits > 0, groups.count < 8 else { return nil }
            groups.append(value)
            if i == b.count { break }
            guard b[i] == colon, i + 1 < b.count else { return nil }
            i += 1
            if b[i] == colon {
                guard gap == nil else { return nil }
                gap = groups.count
                i += 1
            }
        }
        if let gap {
            guard groups.count <= 7 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
