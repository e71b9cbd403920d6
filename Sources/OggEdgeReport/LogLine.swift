import Foundation
import OggEdgeCore

/// The fields of one delivery-log line that the report uses.
struct LogLine {
    var timestampMs: Int64
    var track: String?
    var kbps: Int?
    var status: Int
    var bytesSent: Int
    var ttfbUs: Int?
    var playbackStartUs: Int?
    /// nil for a response that is not audio delivery (`"cache": null`).
    var cache: String?
    var auth: String
    var aborted: Bool

    /// Parses one line (without its newline). `nil` when it is not a JSON object with a valid
    /// `ts`, an integer `status` and a `cache` that is a string or `null`. Other fields are optional: a missing or
    /// mistyped number reads as absent, a missing `auth` as "ok", a missing `aborted` as false.
    static func parse(_ bytes: Data) -> LogLine? {
        guard let first = bytes.first(where: { !isSpace($0) }), first == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any],
              let ts = object["ts"] as? String, let timestampMs = RFC3339Parser.millis(ts),
              let status = integer(object["status"]), let cache = object["cache"], cache is String || cache is NSNull
        else { return nil }
        return LogLine(
            timestampMs: timestampMs,
            track: object["track"] as? String,
            kbps: integer(object["kbps"]),
            status: status,
            bytesSent: max(integer(object["bytes_sent"]) ?? 0, 0),
            ttfbUs: integer(object["ttfb_us"]).flatMap { $0 >= 0 ? $0 : nil },
            playbackStartUs: integer(object["playback_start_us"]).flatMap { $0 >= 0 ? $0 : nil },
            cache: cache as? String,
            auth: object["auth"] as? String ?? "ok",
            aborted: object["aborted"] as? Bool ?? false
        )
    }

    /// True for blank-line bytes (space, tab, CR).
    static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0D
    }

    /// An integral JSON number (JSONSerialization hands out NSNumber); anything else is absent.
    private static func integer(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 9e15 else { return nil }
        return number.intValue
    }
}

/// RFC 3339 timestamps to milliseconds since the epoch, without a DateFormatter.
enum RFC3339Parser {
    /// `2026-11-25T17:24:28.381Z`, `2026-11-25T17:24:28Z`, `…+01:00`; fractions beyond ms are cut.
    static func millis(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + width) {
                guard b[k] >= 0x30, b[k] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[k] - 0x30)
            }
            i += width
            return v
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
              let second = number(2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var ms: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 3 { ms = ms * 10 + Int64(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { ms *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if expect("Zz") {
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = number(2), expect(":"), let om = number(2), oh < 24, om < 60 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = HTTPDate.daysFromCivil(year: Int(year), month: Int(month), day: Int(day))
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1000 + ms
    }
}
