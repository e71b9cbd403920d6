import Crypto
import Foundation

/// Makes signed audio URLs (contract "Audio URL") that ``URLVerifier`` accepts: used by
/// `oggedge sign` and by a child node signing its requests to a parent.
public enum URLSigner {
    /// Returns `path?exp=…&kid=…[&uid=…][&ip=…][&st=…][&acl=…][&maxkbps=…]&sig=…`.
    ///
    /// Values are percent-encoded, keeping only RFC 3986 unreserved characters
    /// (`A-Z a-z 0-9 - . _ ~`). The path is emitted as given, except that bytes outside RFC 3986
    /// `pchar` / `/` (and a `%` not starting a valid escape) are percent-encoded. The signature
    /// is HMAC-SHA256 with `key` over exactly the emitted text before `&sig=` (the query alone
    /// when `acl` is given), as base64url without padding.
    public static func sign(path: String, key: SigningKey, expires: Int64, uid: String? = nil, ip: String? = nil,
                            notBefore: Int64? = nil, acl: String? = nil, maxKbps: Int? = nil) -> String {
        let encodedPath = encodePath(path)
        var query = "exp=\(expires)&kid=" + percentEncode(key.kid)
        if let uid { query += "&uid=" + percentEncode(uid) }
        if let ip { query += "&ip=" + percentEncode(ip) }
        if let notBefore { query += "&st=\(notBefore)" }
        if let acl { query += "&acl=" + percentEncode(acl) }
        if let maxKbps { query += "&maxkbps=\(maxKbps)" }
        let message = acl == nil ? encodedPath + "?" + query : query
        return encodedPath + "?" + query + "&sig=" + signature(message: message, secret: key.secret)
    }

    /// base64url (no padding) of HMAC-SHA256(`secret`, UTF-8 of `message`).
    public static func signature(message: String, secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: secret))
        return Base64URL.encode(mac)
    }

    /// Percent-encodes every byte of the UTF-8 text except RFC 3986 unreserved characters.
    public static func percentEncode(_ value: String) -> String {
        encode(Array(value.utf8)) { c, _, _ in isUnreserved(c) }
    }

    // MARK: - Helpers

    private static func encodePath(_ path: String) -> String {
        encode(Array(path.utf8)) { c, bytes, i in
            if c == UInt8(ascii: "%") {
                return i + 2 < bytes.count && isHex(bytes[i + 1]) && isHex(bytes[i + 2])
            }
            return isUnreserved(c) || c == UInt8(ascii: "/") || c == UInt8(ascii: ":") || c == UInt8(ascii: "@")
                || "!$&'()*+,;=".utf8.contains(c)
        }
    }

    /// Encodes each byte for which `keep(byte, all, index)` is false as `%XX` (upper-case hex).
    private static func encode(_ bytes: [UInt8], keep: ([UInt8].Element, [UInt8], Int) -> Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (i, c) in bytes.enumerated() {
            if keep(c, bytes, i) {
                out.append(c)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func isHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}
