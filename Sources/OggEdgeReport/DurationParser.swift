/// Parses the compact durations `--since` takes.
public enum DurationParser {
    /// Parses one or more `<digits><unit>` components with units `d`, `h`, `m`, `s`, each at
    /// most once and largest first: `"90s"`, `"15m"`, `"2h"`, `"7d"`, `"1h30m"`, `"1d12h"`.
    /// Surrounding whitespace is ignored. Returns `nil` for anything else: empty input, a bare
    /// number, signs, fractions, unknown or repeated units, `"30m1h"`, or more than 100 years.
    public static func parse(_ s: String) -> Duration? {
        let units: [(unit: UInt8, seconds: Int64)] = [
            (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
        ]
        let bytes = Array(s.utf8).drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard !bytes.isEmpty else { return nil }
        var total: Int64 = 0
        var nextUnit = 0  // index into `units` of the smallest unit still allowed
        var value: Int64 = 0
        var digits = 0
        for byte in bytes {
            if byte >= 0x30, byte <= 0x39 {
                digits += 1
                guard digits <= 9 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
                continue
            }
            guard digits > 0, let index = units[nextUnit...].firstIndex(where: { $0.unit == byte }) else { return nil }
            total += value * units[index].seconds
            nextUnit = index + 1
            value = 0
            digits = 0
        }
        guard digits == 0, total <= 100 * 366 * 86_400 else { return nil }  // no trailing bare number
        return .seconds(total)
    }

    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }
}
