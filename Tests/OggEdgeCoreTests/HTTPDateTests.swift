import Foundation
import Testing
@testable import OggEdgeCore

@Suite("HTTP-date")
struct HTTPDateTests {
    /// RFC 9110 §5.6.7's example instant, 1994-11-06T08:49:37Z.
    static let example: Int64 = 784_111_777

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  // obsolete RFC 850
        "Sun Nov  6 08:49:37 1994",  // asctime
        "  Sun, 06 Nov 1994 08:49:37 GMT\t",
        "sun, 06 nov 1994 08:49:37 GMT",
        "SUNDAY, 06-NOV-94 08:49:37 GMT",
        "Sun Nov 06 08:49:37 1994",
        "Mon, 06 Nov 1994 08:49:37 GMT",  // wrong weekday: syntax only, as Go does
    ])
    func parsesTheThreeForms(_ text: String) {
        #expect(HTTPDate.parse(text[...]) == Self.example)
    }

    @Test(arguments: [
        "", "   ", "GMT", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 23:60:00 GMT", "Sun, 06 Nov 1994 23:59:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2023 00:00:00 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTx", "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT garbage", "Sun, ０6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sundae, 06-Nov-94 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94", "Sun Nov  6 08:49:37 1994 GMT",
        "784111777", "-1", "Sun", ",", "Sun, ", "\u{0}", "🎵, 06 Nov 1994 08:49:37 GMT",
    ])
    func rejectsInvalidValues(_ text: String) {
        #expect(HTTPDate.parse(text[...]) == nil)
    }

    @Test func calendarEdges() {
        #expect(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Wed, 31 Dec 1969 23:59:59 GMT") == -1)
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT") == 1_709_164_800)
        #expect(HTTPDate.parse("Tue, 29 Feb 2000 12:00:00 GMT") == 951_825_600)
        #expect(HTTPDate.parse("Fri, 31 Dec 9999 23:59:59 GMT") == 253_402_300_799)
        #expect(HTTPDate.parse("Sat, 01 Jan 0000 00:00:00 GMT") == -62_167_219_200)
        #expect(HTTPDate.parse("Sat, 31 Dec 2016 23:59:60 GMT") == 1_483_228_800)  // leap second
        #expect(HTTPDate.parse("Tue, 19 Jan 2038 03:14:08 GMT") == 2_147_483_648)
    }

    @Test func rfc850TwoDigitYears() {
        #expect(HTTPDate.parse("Thursday, 01-Jan-70 00:00:00 GMT") == 0)
        #expect(HTTPDate.parse("Saturday, 01-Jan-00 00:00:00 GMT") == 946_684_800)  // 2000
        #expect(HTTPDate.parse("Sunday, 01-Jan-69 00:00:00 GMT") == HTTPDate.parse("Tue, 01 Jan 2069 00:00:00 GMT"))
        // RFC 9110: more than 50 years in the future means the previous century.
        let now2025 = HTTPDate.parse("Sat, 01 Nov 2025 00:00:00 GMT") ?? 0
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now2025) == Self.example)
        #expect(HTTPDate.parse("Friday, 01-Jan-75 00:00:00 GMT", now: now2025) == HTTPDate.parse("Tue, 01 Jan 2075 00:00:00 GMT"))
        #expect(HTTPDate.parse("Friday, 01-Jan-76 00:00:00 GMT", now: now2025) == HTTPDate.parse("Thu, 01 Jan 1976 00:00:00 GMT"))
        let now2099 = HTTPDate.parse("Thu, 01 Jan 2099 00:00:00 GMT") ?? 0
        #expect(HTTPDate.parse("Friday, 01-Jan-00 00:00:00 GMT", now: now2099) == HTTPDate.parse("Fri, 01 Jan 2100 00:00:00 GMT"))
    }

    @Test func formatsIMFFixdate() {
        #expect(HTTPDate.format(Self.example) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        #expect(HTTPDate.format(1_709_164_800) == "Thu, 29 Feb 2024 00:00:00 GMT")
        #expect(HTTPDate.format(.max) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(HTTPDate.format(.min) == "Sat, 01 Jan 0000 00:00:00 GMT")
    }

    /// Cross-check against Foundation's formatter over random instants in years 1900–2200.
    @Test func formatAgreesWithFoundationAndRoundTrips() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var rng = RangeFuzzRNG(state: 2024)
        let low: Int64 = -2_208_988_800, high: Int64 = 7_258_118_400
        for _ in 0..<2000 {
            let seconds = low + Int64(rng.next(upperBound: UInt64(high - low)))
            let text = HTTPDate.format(seconds)
            #expect(text == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
            #expect(HTTPDate.parse(text[...]) == seconds)
        }
    }

    /// Fuzz finding (FuzzConditionals): the leap second at the end of year 9999 parsed to
    /// 10000-01-01T00:00:00Z, a value `format` cannot write (it clamps), so the date did not
    /// round-trip. It now reads as the last second of 9999.
    @Test func leapSecondAtTheEndOfTheRangeStaysInTheRange() {
        let last: Int64 = 253_402_300_799
        #expect(HTTPDate.parse("Fri, 31 Dec 9999 23:59:60 GMT") == last)
        #expect(HTTPDate.parse("Fri Dec 31 23:59:60 9999") == last)
        #expect(HTTPDate.format(last) == "Fri, 31 Dec 9999 23:59:59 GMT")
        #expect(HTTPDate.parse("Thu, 31 Dec 1998 23:59:60 GMT") == 915_148_800) // elsewhere: the next second
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = RangeFuzzRNG(state: 99)
        let pieces = ["Sun", ", ", "06", " ", "Nov", "1994", "08:49:37", "GMT", "-", "94", "Sunday", ":", "9", "\t", "é"]
        for _ in 0..<5000 {
            let text = (0..<Int(rng.next(upperBound: UInt64(12)))).map { _ in pieces[Int(rng.next(upperBound: UInt64(pieces.count)))] }.joined()
            if let seconds = HTTPDate.parse(text[...]) {
                #expect(seconds >= -62_167_219_200 && seconds <= 253_402_300_799, "\(text)")
            }
        }
    }
}
