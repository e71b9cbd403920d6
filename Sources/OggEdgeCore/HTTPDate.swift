/// HTTP-date parsing and formatting (RFC 9110 §5.6.7), on Unix seconds, without Foundation.
public enum HTTPDate {
    private static let dayNames: [[UInt8]] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].map { Array($0.utf8) }
    private static let longDayNames: [[UInt8]] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        .map { Array($0.utf8) }
    private static let monthNames: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { Array($0.utf8) }
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range a 4-digit year can express.
    private static let earliest: Int64 = daysFromCivil(year: 0, month: 1, day: 1) * 86_400
    private static let latest: Int64 = daysFromCivil(year: 9999, month: 12, day: 31) * 86_400 + 86_399

    /// Parses an HTTP-date in any of the three forms a recipient must accept:
    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), obsolete RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    ///
    /// Surrounding whitespace is ignored; names match case-insensitively; the day name is checked
    /// for syntax only. Calendar validity is checked (no 31 April, 29 February only in leap
    /// years); second 60 (leap second) is accepted. RFC 850's two-digit year is read as 2000–2069
    /// for `00`–`69` and 1970–1999 for `70`–`99`; use ``parse(_:now:)`` for the RFC's 50-year rule.
    /// - Returns: Unix seconds, or `nil` when the value is not a valid HTTP-date.
    public static func parse(_ value: Substring) -> Int64? {
        parse(value) { $0 < 70 ? 2000 + $0 : 1900 + $0 }
    }

    /// Like ``parse(_:)``, but reads an RFC 850 two-digit year as RFC 9110 requires: the year
    /// with those last two digits that is not more than 50 years after `now` (Unix seconds).
    public static func parse(_ value: Substring, now: Int64) -> Int64? {
        let currentYear = civilFromDays(floorDiv(min(max(now, earliest), latest), 86_400)).year
        return parse(value) { twoDigits in
            var year = currentYear - currentYear % 100 + twoDigits
            if year > currentYear + 50 { year -= 100 }
            if year <= currentYear - 50 { year += 100 }
            return year
        }
    }

    /// Formats Unix seconds as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    /// Values outside years 0000–9999 are clamped to that range so the output is always valid.
    public static func format(_ unixSeconds: Int64) -> String {
        let seconds = min(max(unixSeconds, earliest), latest)
        let days = floorDiv(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let date = civilFromDays(days)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        var out: [UInt8] = []
        out.reserveCapacity(29)
        out += dayNames[weekday]
        out += Array(", ".utf8)
        appendDigits(&out, date.day, width: 2)
        out.append(UInt8(ascii: " "))
        out += monthNames[date.month - 1]
        out.append(UInt8(ascii: " "))
        appendDigits(&out, date.year, width: 4)
        out.append(UInt8(ascii: " "))
        appendDigits(&out, secondOfDay / 3600, width: 2)
        out.append(UInt8(ascii: ":"))
        appendDigits(&out, secondOfDay / 60 % 60, width: 2)
        out.append(UInt8(ascii: ":"))
        appendDigits(&out, secondOfDay % 60, width: 2)
        out += Array(" GMT".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Parsing

    private static func parse(_ value: Substring, twoDigitYear: (Int) -> Int) -> Int64? {
        var bytes = Array(value.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let lead = bytes.prefix { $0 == 0x20 || $0 == 0x09 }.count
        var s = Scanner(bytes: bytes, index: lead)
        if let comma = bytes[lead...].firstIndex(of: UInt8(ascii: ",")) {
            let nameLength = comma - lead
            if nameLength == 3 {  // IMF-fixdate
                guard s.name(in: dayNames) != nil, s.literal(", "),
                      let day = s.digits(2), s.literal(" "), let month = s.name(in: monthNames), s.literal(" "),
                      let year = s.digits(4), s.literal(" "), let time = s.time(), s.literal(" GMT"), s.atEnd
                else { return nil }
                return timestamp(year: year, month: month + 1, day: day, time: time)
            }
            // RFC 850
            guard s.name(in: longDayNames) != nil, s.literal(", "),
                  let day = s.digits(2), s.literal("-"), let month = s.name(in: monthNames), s.literal("-"),
                  let year = s.digits(2), s.literal(" "), let time = s.time(), s.literal(" GMT"), s.atEnd
            else { return nil }
            return timestamp(year: twoDigitYear(year), month: month + 1, day: day, time: time)
        }
        // asctime: day is 2DIGIT or SP 1DIGIT
        guard s.name(in: dayNames) != nil, s.literal(" "), let month = s.name(in: monthNames), s.literal(" ")
        else { return nil }
        let day: Int?
        if s.literal(" ") { day = s.digits(1) } else { day = s.digits(2) }
        guard let day, s.literal(" "), let time = s.time(), s.literal(" "), let year = s.digits(4), s.atEnd
        else { return nil }
        return timestamp(year: year, month: month + 1, day: day, time: time)
    }

    private static func timestamp(year: Int, month: Int, day: Int, time: (Int, Int, Int)) -> Int64? {
        guard day >= 1, day <= daysInMonth(year: year, month: month),
              time.0 <= 23, time.1 <= 59, time.2 <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        // A leap second reads as the next second, except 9999-12-31 23:59:60, which stays on the
        // last second a 4-digit year can express (so `format` writes back the same value).
        return min(days * 86_400 + Int64(time.0 * 3600 + time.1 * 60 + time.2), latest)
    }

    /// A cursor over ASCII bytes; every method consumes input only on success.
    private struct Scanner {
        let bytes: [UInt8]
        var index: Int

        var atEnd: Bool { index == bytes.count }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
            index += count
            return true
        }

        mutating func digits(_ count: Int) -> Int? {
            guard bytes.count - index >= count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }

        /// Matches one of `names` case-insensitively and returns its position in the list.
        mutating func name(in names: [[UInt8]]) -> Int? {
            for (position, name) in names.enumerated() where bytes.count - index >= name.count {
                let candidate = bytes[index..<index + name.count]
                if zip(candidate, name).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
                    index += name.count
                    return position
                }
            }
            return nil
        }

        /// `HH:MM:SS`, ranges not yet checked.
        mutating func time() -> (Int, Int, Int)? {
            let saved = index
            guard let hour = digits(2), literal(":"), let minute = digits(2), literal(":"), let second = digits(2)
            else { index = saved; return nil }
            return (hour, minute, second)
        }
    }

    // MARK: - Calendar (proleptic Gregorian, Howard Hinnant's algorithms)

    private static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        case 1...12: 31
        default: 0
        }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 of a proleptic-Gregorian civil date.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Civil date of a day count since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private static func appendDigits(_ out: inout [UInt8], _ value: Int, width: Int) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(0x30 + rest % 10))
            rest /= 10
        } while rest > 0
        if digits.count < width { digits += Array(repeating: 0x30, count: width - digits.count) }
        out += digits.reversed()
    }
}
