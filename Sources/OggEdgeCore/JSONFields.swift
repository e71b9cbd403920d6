extension ByteCursor {
    /// Bytes enough for a JSON line of fixed parts up to `fixed` bytes and `stringCount` strings
    /// of `strings` UTF-8 bytes in all (each byte escaped at worst to six, plus the quotes).
    static func jsonBound(fixed: Int, strings: Int, stringCount: Int) -> Int {
        fixed + 6 * strings + 2 * stringCount
    }

    /// `null`, or `value` quoted and escaped (RFC 8259 §7).
    mutating func jsonString(_ value: String?) {
        guard var value else { return raw("null") }
        byte(UInt8(ascii: "\""))
        value.withUTF8 { bytes in
            for b in bytes where b < 0x20 || b == 0x7f || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                return jsonEscaped(bytes)
            }
            raw(UnsafeRawBufferPointer(bytes))
        }
        byte(UInt8(ascii: "\""))
    }

    private mutating func jsonEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): byte(92); byte(34)
            case UInt8(ascii: "\\"): byte(92); byte(92)
            case UInt8(ascii: "\n"): byte(92); byte(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): byte(92); byte(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): byte(92); byte(UInt8(ascii: "t"))
            case 0..<0x20, 0x7f:
                raw("\\u00")
                byte(Self.hex(b >> 4))
                byte(Self.hex(b & 0xf))
            default: byte(b)
            }
        }
    }

    private static func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 87 + nibble }

    /// `null`, or `value` in decimal.
    mutating func jsonInt(_ value: Int64?) {
        guard let value else { return raw("null") }
        if value < 0 {
            byte(UInt8(ascii: "-"))
            decimal(value.magnitude)
        } else {
            decimal(UInt64(value))
        }
    }
}

extension RFC3339 {
    /// The date and time of one second (`2026-11-25T17:07:36.`), kept between lines: a log
    /// writes many lines in the same second, and only the milliseconds differ.
    public struct SecondCache: Sendable {
        var second = Int64.min
        var prefix: [UInt8] = []

        public init() {}

        /// Writes `ms` (milliseconds since the epoch) as `2026-11-25T17:07:36.123Z`.
        mutating func write(_ ms: Int64, to out: inout ByteCursor) {
            let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
            if seconds != second {
                var full: [UInt8] = []
                RFC3339.appendMillis(seconds * 1000, to: &full)
                prefix = Array(full.dropLast(4))  // "000Z"
                second = seconds
            }
            prefix.withUnsafeBytes { out.raw($0) }
            out.padded(ms - seconds * 1000, width: 3)
            out.byte(UInt8(ascii: "Z"))
        }
    }
}
