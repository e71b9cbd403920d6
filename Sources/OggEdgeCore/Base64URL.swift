/// Base64 codecs used by URL signing and key parsing, written without Foundation so that
/// decoding is strict and never traps on hostile input.
///
/// - `encode` / `decode`: base64url (RFC 4648 §5), no padding. Decoding is canonical: it refuses
///   `=`, characters outside `A-Z a-z 0-9 - _`, impossible lengths and non-zero trailing bits, so
///   one byte string has exactly one accepted text form.
/// - `encodeStandard` / `decodeStandard`: standard base64 (RFC 4648 §4), used for secrets in
///   `OGGEDGE_SIGNING_KEYS`; padding is optional on input.
public enum Base64URL {
    /// Encodes bytes as base64url without padding (`-` and `_`, no `=`).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        encode(Array(bytes), alphabet: urlAlphabet, pad: false)
    }

    /// Decodes base64url without padding; returns nil for any character outside the base64url
    /// alphabet (including `=`), a length of 1 mod 4, or non-zero unused trailing bits.
    public static func decode(_ s: Substring) -> [UInt8]? {
        decode(Array(s.utf8), urlSafe: true)
    }

    /// Encodes bytes as standard base64 (`+`, `/`) with `=` padding.
    public static func encodeStandard(_ bytes: some Sequence<UInt8>) -> String {
        encode(Array(bytes), alphabet: standardAlphabet, pad: true)
    }

    /// Decodes standard base64 (`+`, `/`); trailing `=` padding is optional but, when present,
    /// must be exactly right. Returns nil for anything else (no whitespace is skipped).
    public static func decodeStandard(_ s: Substring) -> [UInt8]? {
        var chars = Array(s.utf8)
        var padding = 0
        while let last = chars.last, last == UInt8(ascii: "=") {
            chars.removeLast()
            padding += 1
        }
        if padding > 0 && (padding > 2 || (chars.count + padding) % 4 != 0) { return nil }
        return decode(chars, urlSafe: false)
    }

    // MARK: - Implementation

    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static func encode(_ bytes: [UInt8], alphabet: [UInt8], pad: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if pad { out.append(contentsOf: Array("==".utf8)) }
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            if pad { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Value of one alphabet character, or nil.
    private static func value(_ c: UInt8, urlSafe: Bool) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "-") where urlSafe, UInt8(ascii: "+") where !urlSafe: return 62
        case UInt8(ascii: "_") where urlSafe, UInt8(ascii: "/") where !urlSafe: return 63
        default: return nil
        }
    }

    /// Decodes unpadded characters; refuses impossible lengths and non-zero trailing bits.
    private static func decode(_ chars: [UInt8], urlSafe: Bool) -> [UInt8]? {
        let rest = chars.count % 4
        if rest == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3 + 2)
        var i = 0
        while i + 4 <= chars.count {
            guard let a = value(chars[i], urlSafe: urlSafe), let b = value(chars[i + 1], urlSafe: urlSafe),
                  let c = value(chars[i + 2], urlSafe: urlSafe), let d = value(chars[i + 3], urlSafe: urlSafe)
            else { return nil }
            let n = a << 18 | b << 12 | c << 6 | d
            out.append(UInt8(n >> 16 & 0xFF))
            out.append(UInt8(n >> 8 & 0xFF))
            out.append(UInt8(n & 0xFF))
            i += 4
        }
        if rest == 2 {
            guard let a = value(chars[i], urlSafe: urlSafe), let b = value(chars[i + 1], urlSafe: urlSafe),
                  b & 0x0F == 0 else { return nil }
            out.append(UInt8((a << 2 | b >> 4) & 0xFF))
        } else if rest == 3 {
            guard let a = value(chars[i], urlSafe: urlSafe), let b = value(chars[i + 1], urlSafe: urlSafe),
                  let c = value(chars[i + 2], urlSafe: urlSafe), c & 0x03 == 0 else { return nil }
            let n = a << 12 | b << 6 | c
            out.append(UInt8(n >> 10 & 0xFF))
            out.append(UInt8(n >> 2 & 0xFF))
        }
        return out
    }
}
