import Testing
@testable import OggEdgeCore

/// One row of the range table: a header on a representation of `length` bytes.
struct RangeHeaderCase: Sendable, CustomTestStringConvertible {
    let header: String?
    let length: Int64
    let expected: RangeDecision
    var maxRanges = 16
    var testDescription: String { "\(header.map { "'\($0)'" } ?? "nil") len=\(length) max=\(maxRanges)" }
}

private func r(_ start: Int64, _ end: Int64) -> ByteRange { ByteRange(start: start, end: end) }
private func one(_ start: Int64, _ end: Int64) -> RangeDecision { .single(r(start, end)) }
private func many(_ pairs: [(Int64, Int64)]) -> RangeDecision { .multiple(pairs.map { r($0.0, $0.1) }) }
private func c(_ header: String?, _ length: Int64, _ expected: RangeDecision, max: Int = 16) -> RangeHeaderCase {
    RangeHeaderCase(header: header, length: length, expected: expected, maxRanges: max)
}

/// Go's net/http fs_test.go `ServeFileRangeTests` (testdata/file is 11 bytes). Go's exclusive ends
/// are converted to inclusive ones.
private let goServeFileCases: [RangeHeaderCase] = [
    c(nil, 11, .full),
    c("bytes=0-4", 11, one(0, 4)),
    c("bytes=2-", 11, one(2, 10)),
    c("bytes=-5", 11, one(6, 10)),
    c("bytes=3-7", 11, one(3, 7)),
    c("bytes=0-0,-2", 11, many([(0, 0), (9, 10)])),
    c("bytes=0-1,5-8", 11, many([(0, 1), (5, 8)])),
    c("bytes=0-1,5-", 11, many([(0, 1), (5, 10)])),
    c("bytes=5-1000", 11, one(5, 10)),
    c("bytes=0-,1-,2-,3-,4-", 11, .full),  // wasteful: 45 bytes asked of 11
    c("bytes=0-9", 11, one(0, 9)),
    c("bytes=0-10", 11, one(0, 10)),
    c("bytes=0-11", 11, one(0, 10)),
    c("bytes=10-11", 11, one(10, 10)),
    c("bytes=10-", 11, one(10, 10)),
    c("bytes=11-", 11, .unsatisfiable),
    c("bytes=11-12", 11, .unsatisfiable),
    c("bytes=12-12", 11, .unsatisfiable),
    c("bytes=11-100", 11, .unsatisfiable),
    c("bytes=12-100", 11, .unsatisfiable),
    c("bytes=100-", 11, .unsatisfiable),
    c("bytes=100-1000", 11, .unsatisfiable),
]

/// Go's net/http range_test.go `ParseRangeTests`; Go's "nil" means ignored (200) or, for a
/// satisfiable syntax on an empty file, 416.
private let goParseRangeCases: [RangeHeaderCase] = [
    c("", 0, .full), c("", 1000, .full), c("foo", 0, .full), c("bytes=", 0, .full),
    c("bytes=7", 10, .full), c("bytes= 7 ", 10, .full), c("bytes=1-", 0, .unsatisfiable),
    c("bytes=5-4", 10, .full), c("bytes=0-2,5-4", 10, .full), c("bytes=2-5,4-3", 10, .full),
    c("bytes=--5,4--3", 10, .full), c("bytes=A-", 10, .full), c("bytes=A- ", 10, .full),
    c("bytes=A-Z", 10, .full), c("bytes= -Z", 10, .full), c("bytes=5-Z", 10, .full),
    c("bytes=Ran-dom, garbage", 10, .full), c("bytes=0x01-0x02", 10, .full),
    c("bytes=         ", 10, .full), c("bytes= , , ,   ", 10, .full),
    c("bytes=0-9", 10, one(0, 9)), c("bytes=0-", 10, one(0, 9)), c("bytes=5-", 10, one(5, 9)),
    c("bytes=0-20", 10, one(0, 9)), c("bytes=15-,0-5", 10, one(0, 5)),
    c("bytes=1-2,5-", 10, many([(1, 2), (5, 9)])),
    c("bytes=-2 , 7-", 11, one(7, 10)),  // 9-10 lies inside 7-10
    c("bytes=0-0 ,2-2, 7-", 11, many([(0, 0), (2, 2), (7, 10)])),
    c("bytes=-5", 10, one(5, 9)), c("bytes=-15", 10, one(0, 9)),
    c("bytes=0-499", 10000, one(0, 499)), c("bytes=500-999", 10000, one(500, 999)),
    c("bytes=-500", 10000, one(9500, 9999)), c("bytes=9500-", 10000, one(9500, 9999)),
    c("bytes=0-0,-1", 10000, many([(0, 0), (9999, 9999)])),
    c("bytes=500-600,601-999", 10000, one(500, 999)),  // adjacent → coalesced
    c("bytes=500-700,601-999", 10000, one(500, 999)),  // overlapping → coalesced
    c("bytes=   1 -2   ,  4- 5, 7 - 8 , ,,", 11, many([(1, 2), (4, 5), (7, 8)])),
]

/// nginx range.t style: max_ranges, overlapping ranges, ranges adding up beyond the file size.
private let nginxCases: [RangeHeaderCase] = [
    c("bytes=0-8", 1000, one(0, 8)),
    c("bytes=-10", 1000, one(990, 999)),
    c("bytes=33-", 1000, one(33, 999)),
    c("bytes=0-10,11-99999", 1000, one(0, 999)),  // adjacent, exactly the size: 206
    c("bytes=0-10,12-99999", 1000, many([(0, 10), (12, 999)])),
    c("bytes=0-10,5-99999", 1000, .full),  // 11 + 995 > 1000
    c("bytes=0-0,0-0", 1000, one(0, 0)),
    c("bytes=0-9,5-14,10-19", 1000, one(0, 19)),
    c("bytes=0-0,1-1", 10, one(0, 1), max: 2),
    c("bytes=0-0,2-2,4-4", 10, .full, max: 2),
    c("bytes=0-0,2-2", 10, many([(0, 0), (2, 2)]), max: 2),
    c("bytes=0-0", 10, .full, max: 0),
    c("bytes=0-0", 10, .full, max: -1),
    c("bytes=0-0,5-", 10, .full, max: 1),
    c("bytes=50-,60-", 10, .full, max: 1),  // every spec counts, even unsatisfiable ones
]

/// Syntax and arithmetic edge cases.
private let edgeCases: [RangeHeaderCase] = [
    c("BYTES=0-4", 11, one(0, 4)), c("Bytes=0-4", 11, one(0, 4)), c("bYtEs=2-", 11, one(2, 10)),
    c("items=0-4", 11, .full), c("bytes 0-4", 11, .full), c("bytes =0-4", 11, .full),
    c("bytes:0-4", 11, .full), c("byte=0-4", 11, .full), c("bytesx=0-4", 11, .full), c("=0-4", 11, .full),
    c(" bytes=0-4 ", 11, one(0, 4)), c("\tbytes=0-4\t", 11, one(0, 4)),
    c("bytes=0-1,\t5-8", 11, many([(0, 1), (5, 8)])),
    c("bytes=0-4,", 11, one(0, 4)), c("bytes=,0-4", 11, one(0, 4)), c("bytes=0-1,,,5-8", 11, many([(0, 1), (5, 8)])),
    c("bytes=0-4;5-6", 11, .full), c("bytes=0--4", 11, .full), c("bytes=1-2-3", 11, .full),
    c("bytes=+1-2", 11, .full), c("bytes=1-+2", 11, .full), c("bytes=1.5-2", 11, .full),
    c("bytes=0-٣", 11, .full), c("bytes=-", 11, .full), c("bytes=--", 11, .full), c("bytes=-1-", 11, .full),
    c("bytes=-0", 11, .unsatisfiable), c("bytes=-0,-0", 11, .unsatisfiable), c("bytes=-0,0-1", 11, one(0, 1)),
    c("bytes=-11", 11, one(0, 10)), c("bytes=-12", 11, one(0, 10)), c("bytes=-1", 11, one(10, 10)),
    c("bytes=0-0", 1, one(0, 0)), c("bytes=0-", 1, one(0, 0)), c("bytes=-1", 1, one(0, 0)), c("bytes=1-", 1, .unsatisfiable),
    // Empty representation: nothing is satisfiable, invalid syntax is still ignored.
    c("bytes=0-", 0, .unsatisfiable), c("bytes=0-0", 0, .unsatisfiable), c("bytes=-5", 0, .unsatisfiable),
    c("bytes=-0", 0, .unsatisfiable), c("bytes=x", 0, .full), c(nil, 0, .full),
    c("bytes=0-", -5, .unsatisfiable),
    // Unsatisfiable specs are dropped, invalid ones spoil the whole header.
    c("bytes=20-30,0-1", 11, one(0, 1)), c("bytes=20-30,40-", 11, .unsatisfiable), c("bytes=20-30,5-4", 11, .full),
    c("bytes=50-59,0-9", 100, many([(0, 9), (50, 59)])), c("bytes=0-10,5-20", 100, one(0, 20)),
    c("bytes=0-60,40-99", 100, .full), c("bytes=0-49,50-99", 100, one(0, 99)), c("bytes=0-49,50-100", 100, one(0, 99)),
    c("bytes=0-", 100, one(0, 99)), c("bytes=0-99", 100, one(0, 99)), c("bytes=0-,0-", 100, .full),
    // 19 digits are accepted (Int64.max has 19), more or beyond Int64.max is invalid.
    c("bytes=9223372036854775807-", 11, .unsatisfiable), c("bytes=9223372036854775808-", 11, .full),
    c("bytes=99999999999999999999-", 11, .full), c("bytes=0000000000000000005-", 11, one(5, 10)),
    c("bytes=00000000000000000005-", 11, .full), c("bytes=0-9223372036854775807", 11, one(0, 10)),
    c("bytes=0-9223372036854775808", 11, .full), c("bytes=-9223372036854775807", 11, one(0, 10)),
    c("bytes=-9223372036854775808", 11, .full),
    c("bytes=0-", .max, one(0, .max - 1)), c("bytes=-1", .max, one(.max - 1, .max - 1)),
    c("bytes=0-,1-", .max, .full), c("bytes=9223372036854775806-", .max, one(.max - 1, .max - 1)),
]

@Suite("Range header resolution")
struct RangeResolverTests {
    @Test("Go fs_test.go cases", arguments: goServeFileCases)
    func goServeFile(_ row: RangeHeaderCase) { check(row) }

    @Test("Go range_test.go cases", arguments: goParseRangeCases)
    func goParseRange(_ row: RangeHeaderCase) { check(row) }

    @Test("nginx range.t style cases", arguments: nginxCases)
    func nginx(_ row: RangeHeaderCase) { check(row) }

    @Test("syntax and arithmetic edge cases", arguments: edgeCases)
    func edges(_ row: RangeHeaderCase) { check(row) }

    private func check(_ row: RangeHeaderCase) {
        let decision = RangeResolver.resolve(row.header?[...], length: row.length, policy: RangePolicy(maxRanges: row.maxRanges))
        #expect(decision == row.expected)
    }

    @Test func defaultPolicyAllowsSixteenRangesNotSeventeen() {
        let sixteen = (0..<16).map { "\($0 * 10)-\($0 * 10)" }.joined(separator: ",")
        let seventeen = (0..<17).map { "\($0 * 10)-\($0 * 10)" }.joined(separator: ",")
        #expect(RangePolicy.default.maxRanges == 16)
        #expect(RangeResolver.resolve("bytes=\(sixteen)"[...], length: 10_000) == .multiple((0..<16).map { r($0 * 10, $0 * 10) }))
        #expect(RangeResolver.resolve("bytes=\(seventeen)"[...], length: 10_000) == .full)
    }

    /// CVE-2011-3192: hundreds of overlapping ranges over a large file.
    @Test func apacheKillerIsIgnored() {
        let header = "bytes=" + (0..<1300).map { "\($0)-1000000" }.joined(separator: ",")
        #expect(RangeResolver.resolve(header[...], length: 100_000_000) == .full)
        #expect(RangeResolver.parse(header[...]) == nil)
        #expect(RangeResolver.parse(header[...], maxRanges: 2000)?.count == 1300)
    }

    @Test func parseKeepsRequestOrderAndForms() {
        #expect(RangeResolver.parse("bytes=5-9, -3 ,7-"[...]) == [.closed(first: 5, last: 9), .suffix(3), .from(7)])
        #expect(RangeResolver.parse("bytes=9-5"[...]) == nil)
        #expect(RangeSpec.from(7).resolve(length: 7) == nil)
        #expect(RangeSpec.suffix(3).resolve(length: 2) == r(0, 1))
    }

    @Test func contentRangeValues() {
        #expect(r(0, 499).contentRange(completeLength: 1234) == "bytes 0-499/1234")
        #expect(r(10, 19).contentRange(completeLength: nil) == "bytes 10-19/*")
        #expect(RangeResolver.unsatisfiedContentRange(length: 11) == "bytes */11")
        #expect(r(3, 7).length == 5)
    }

    @Test func coalesceMergesOverlappingAndAdjacentOnly() {
        #expect(ByteRange.coalesce([r(10, 20), r(0, 4), r(5, 5), r(22, 30), r(21, 21)]) == [r(0, 5), r(10, 30)])
        #expect(ByteRange.coalesce([r(0, 10), r(2, 3)]) == [r(0, 10)])
        #expect(ByteRange.coalesce([r(0, 1), r(3, 4)]) == [r(0, 1), r(3, 4)])
        #expect(ByteRange.coalesce([r(0, .max), r(5, 6)]) == [r(0, .max)])
        #expect(ByteRange.coalesce([]) == [])
    }
}

/// Deterministic SplitMix64, so a failing random case can be reproduced from its seed.
struct RangeFuzzRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Range header robustness")
struct RangeResolverRobustnessTests {
    /// Random garbage never crashes, and whatever comes out is a well-formed decision.
    @Test(arguments: [UInt64(1), 2, 3, 42, 0xDEAD_BEEF])
    func randomGarbageGivesWellFormedDecisions(seed: UInt64) {
        var rng = RangeFuzzRNG(state: seed)
        let pieces = ["bytes=", "BYTES=", "0", "1", "9", "-", "-", ",", ",", " ", "\t", "=", "x", "é", "🎵", "\0",
                      "9223372036854775807", "99999999999999999999", "\r\n", "\"", ";"]
        for _ in 0..<3000 {
            let count = Int(rng.next(upperBound: UInt64(40)))
            let header = (0..<count).map { _ in pieces[Int(rng.next(upperBound: UInt64(pieces.count)))] }.joined()
            let length = [Int64(0), 1, 11, 1000, .max][Int(rng.next(upperBound: UInt64(5)))]
            assertWellFormed(RangeResolver.resolve(header[...], length: length), length: length, header: header)
        }
    }

    /// A header of one spec is read in place (the hot path's own reader); its decision must be
    /// the one the general parse gives, over headers built to sit near the grammar's edges.
    @Test(arguments: [UInt64(5), 6, 77])
    func theOneSpecReaderAgreesWithTheGeneralParse(seed: UInt64) {
        var rng = RangeFuzzRNG(state: seed)
        let pieces = ["bytes=", "Bytes=", "bytes =", " ", "\t", "0", "1", "7", "42", "-", "-", "--", "x", "é",
                      "9223372036854775807", "9223372036854775808", "1234567890123456789", "12345678901234567890", "\0"]
        for _ in 0..<20000 {
            let count = Int(rng.next(upperBound: UInt64(7)))
            let header = (0..<count).map { _ in pieces[Int(rng.next(upperBound: UInt64(pieces.count)))] }.joined()
            let length = [Int64(0), 1, 11, 1000, .max][Int(rng.next(upperBound: UInt64(5)))]
            let expected: RangeDecision
            if let specs = RangeResolver.parse(header[...], maxRanges: 16), specs.count == 1 {
                expected = specs[0].resolve(length: length).map { .single($0) } ?? .unsatisfiable
            } else {
                expected = .full
            }
            #expect(RangeResolver.resolve(header[...], length: length) == expected, "header \(header.debugDescription)")
        }
    }

    @Test func hugeHeadersAreHandled() {
        let long = "bytes=" + String(repeating: "0-0,", count: 200_000)
        #expect(RangeResolver.resolve(long[...], length: 100) == .full)
        let spaces = "bytes=" + String(repeating: " ", count: 500_000) + "0-1"
        #expect(RangeResolver.resolve(spaces[...], length: 100) == .single(ByteRange(start: 0, end: 1)))
        let digits = "bytes=" + String(repeating: "9", count: 100_000) + "-"
        #expect(RangeResolver.resolve(digits[...], length: 100) == .full)
        let commas = "bytes=" + String(repeating: ",", count: 500_000)
        #expect(RangeResolver.resolve(commas[...], length: 100) == .full)
    }

    /// Valid random headers checked against a byte-set model of RFC 9110 and the nginx rules.
    @Test(arguments: [UInt64(7), 8, 9])
    func matchesByteSetModel(seed: UInt64) {
        var rng = RangeFuzzRNG(state: seed)
        for _ in 0..<3000 {
            let length = Int64(rng.next(upperBound: UInt64(40)))
            let maxRanges = Int(rng.next(upperBound: UInt64(6)))
            var specs: [String] = []
            var selected: [ClosedRange<Int64>] = []
            for _ in 0..<(1 + Int(rng.next(upperBound: UInt64(6)))) {
                let a = Int64(rng.next(upperBound: UInt64(45))), b = Int64(rng.next(upperBound: UInt64(45)))
                switch rng.next(upperBound: UInt64(3)) {
                case 0:
                    specs.append("\(min(a, b))-\(max(a, b))")
                    if min(a, b) < length { selected.append(min(a, b)...min(max(a, b), length - 1)) }
                case 1:
                    specs.append("\(a)-")
                    if a < length { selected.append(a...(length - 1)) }
                default:
                    specs.append("-\(a)")
                    if a > 0, length > 0 { selected.append(max(0, length - a)...(length - 1)) }
                }
            }
            let header = "bytes=" + specs.joined(separator: rng.next(upperBound: UInt64(2)) == 0 ? "," : " , ")
            let expected: RangeDecision
            if specs.count > maxRanges || selected.reduce(0, { $0 + Int64($1.count) }) > length {
                expected = .full
            } else {
                var covered = Array(repeating: false, count: Int(length))
                for range in selected { for i in range { covered[Int(i)] = true } }
                var runs: [ByteRange] = []
                for i in 0..<Int(length) where covered[i] && (i == 0 || !covered[i - 1]) {
                    var end = i
                    while end + 1 < Int(length), covered[end + 1] { end += 1 }
                    runs.append(ByteRange(start: Int64(i), end: Int64(end)))
                }
                expected = runs.isEmpty ? .unsatisfiable : runs.count == 1 ? .single(runs[0]) : .multiple(runs)
            }
            let actual = RangeResolver.resolve(header[...], length: length, policy: RangePolicy(maxRanges: maxRanges))
            #expect(actual == expected, "\(header) len=\(length) max=\(maxRanges)")
            if actual != expected { return }
        }
    }

    private func assertWellFormed(_ decision: RangeDecision, length: Int64, header: String) {
        switch decision {
        case .full, .unsatisfiable:
            break
        case .single(let range):
            #expect(range.start >= 0 && range.start <= range.end && range.end < length, "\(header)")
        case .multiple(let ranges):
            #expect(ranges.count >= 2 && ranges.count <= RangePolicy.default.maxRanges, "\(header)")
            for (index, range) in ranges.enumerated() {
                #expect(range.start >= 0 && range.start <= range.end && range.end < length, "\(header)")
                if index > 0 { #expect(ranges[index - 1].end + 1 < range.start, "\(header)") }
            }
        }
    }
}
