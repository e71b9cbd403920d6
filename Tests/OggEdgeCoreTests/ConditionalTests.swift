import Testing
@testable import OggEdgeCore

/// One row of the precondition table.
struct PreconditionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let headers: ConditionalHeaders
    let isGetOrHead: Bool
    let expected: Precondition
    var testDescription: String { name }
}

/// Current representation: ETag "v1", Last-Modified Sun, 06 Nov 1994 08:49:37 GMT.
private let validators = Validators(etag: EntityTag(opaque: "v1"), lastModified: 784_111_777)
private let atModification: Substring = "Sun, 06 Nov 1994 08:49:37 GMT"
private let before: Substring = "Sun, 06 Nov 1994 08:49:36 GMT"
private let after: Substring = "Sun, 06 Nov 1994 08:49:38 GMT"

private func p(_ name: String, _ headers: ConditionalHeaders, get: Bool = true, _ expected: Precondition) -> PreconditionCase {
    PreconditionCase(name: name, headers: headers, isGetOrHead: get, expected: expected)
}

private let preconditionCases: [PreconditionCase] = [
    p("no headers", .init(), .proceed),
    p("no headers, POST", .init(), get: false, .proceed),
    // If-Match: strong comparison, * matches, malformed fails.
    p("If-Match same", .init(ifMatch: "\"v1\""), .proceed),
    p("If-Match in list", .init(ifMatch: "\"a\", \"v1\""), .proceed),
    p("If-Match other", .init(ifMatch: "\"v2\""), .preconditionFailed),
    p("If-Match weak never matches", .init(ifMatch: "W/\"v1\""), .preconditionFailed),
    p("If-Match star", .init(ifMatch: "*"), .proceed),
    p("If-Match malformed", .init(ifMatch: "v1"), .preconditionFailed),
    p("If-Match empty is absent", .init(ifMatch: "  "), .proceed),
    // If-Unmodified-Since, only without If-Match.
    p("IUS at modification", .init(ifUnmodifiedSince: atModification), .proceed),
    p("IUS after", .init(ifUnmodifiedSince: after), .proceed),
    p("IUS before", .init(ifUnmodifiedSince: before), .preconditionFailed),
    p("IUS unparseable ignored", .init(ifUnmodifiedSince: "yesterday"), .proceed),
    p("IUS ignored when If-Match present", .init(ifMatch: "\"v1\"", ifUnmodifiedSince: before), .proceed),
    p("IUS before, POST", .init(ifUnmodifiedSince: before), get: false, .preconditionFailed),
    // If-None-Match: weak comparison.
    p("INM same", .init(ifNoneMatch: "\"v1\""), .notModified),
    p("INM weak same", .init(ifNoneMatch: "W/\"v1\""), .notModified),
    p("INM in list", .init(ifNoneMatch: "\"x\" , W/\"y\",\"v1\""), .notModified),
    p("INM other", .init(ifNoneMatch: "\"v2\""), .proceed),
    p("INM star", .init(ifNoneMatch: "*"), .notModified),
    p("INM same, POST", .init(ifNoneMatch: "\"v1\""), get: false, .preconditionFailed),
    p("INM star, POST", .init(ifNoneMatch: "*"), get: false, .preconditionFailed),
    p("INM malformed matches nothing", .init(ifNoneMatch: "\"v1"), .proceed),
    p("INM case-sensitive", .init(ifNoneMatch: "\"V1\""), .proceed),
    // If-Modified-Since: GET/HEAD only, only without If-None-Match.
    p("IMS at modification", .init(ifModifiedSince: atModification), .notModified),
    p("IMS after", .init(ifModifiedSince: after), .notModified),
    p("IMS before", .init(ifModifiedSince: before), .proceed),
    p("IMS rfc850", .init(ifModifiedSince: "Sunday, 06-Nov-94 08:49:37 GMT"), .notModified),
    p("IMS asctime", .init(ifModifiedSince: "Sun Nov  6 08:49:37 1994"), .notModified),
    p("IMS unparseable ignored", .init(ifModifiedSince: "Sun, 06 Nov 1994"), .proceed),
    p("IMS ignored for POST", .init(ifModifiedSince: after), get: false, .proceed),
    p("IMS ignored when INM present and not matching", .init(ifNoneMatch: "\"v2\"", ifModifiedSince: after), .proceed),
    p("INM match wins with stale IMS", .init(ifNoneMatch: "\"v1\"", ifModifiedSince: before), .notModified),
    // Order: 412 from If-Match / IUS comes before 304.
    p("If-Match fails before INM", .init(ifMatch: "\"v2\"", ifNoneMatch: "\"v1\""), .preconditionFailed),
    p("IUS fails before IMS", .init(ifModifiedSince: after, ifUnmodifiedSince: before), .preconditionFailed),
    p("If-Match ok then INM 304", .init(ifMatch: "*", ifNoneMatch: "*"), .notModified),
    p("If-Range alone is not a precondition", .init(ifRange: "\"zzz\""), .proceed),
]

/// One row of the If-Range table.
struct IfRangeCase: Sendable, CustomTestStringConvertible {
    let value: String?
    let allows: Bool
    var testDescription: String { value.map { "'\($0)'" } ?? "absent" }
}

private let ifRangeCases: [IfRangeCase] = [
    .init(value: nil, allows: true),
    .init(value: "\"v1\"", allows: true),
    .init(value: " \"v1\" ", allows: true),
    .init(value: "W/\"v1\"", allows: false),  // weak tags never match (Hummingbird gets this wrong)
    .init(value: "\"v2\"", allows: false),
    .init(value: "\"v1\", \"v2\"", allows: false),  // If-Range holds one validator
    .init(value: "\"v1", allows: false),
    .init(value: "v1", allows: false),
    .init(value: "", allows: false),
    .init(value: "Sun, 06 Nov 1994 08:49:37 GMT", allows: true),
    .init(value: "Sunday, 06-Nov-94 08:49:37 GMT", allows: true),
    .init(value: "Sun Nov  6 08:49:37 1994", allows: true),
    .init(value: "Sun, 06 Nov 1994 08:49:38 GMT", allows: false),  // only an exact match
    .init(value: "Sun, 06 Nov 1994 08:49:36 GMT", allows: false),
    .init(value: "Sun, 06 Nov 1994", allows: false),
]

@Suite("Conditional requests")
struct ConditionalTests {
    @Test(arguments: preconditionCases)
    func evaluate(_ row: PreconditionCase) {
        #expect(Conditional.evaluate(row.headers, validators: validators, isGetOrHead: row.isGetOrHead) == row.expected)
    }

    @Test(arguments: ifRangeCases)
    func ifRange(_ row: IfRangeCase) {
        #expect(Conditional.ifRangeAllowsPartial(row.value?[...], validators: validators) == row.allows)
    }

    @Test func ifRangeNeverMatchesWhenOurTagIsWeak() {
        let weak = Validators(etag: EntityTag(opaque: "v1", isWeak: true), lastModified: 0)
        #expect(!Conditional.ifRangeAllowsPartial("\"v1\"", validators: weak))
    }

    @Test func entityTagHeaderValues() {
        #expect(EntityTag(opaque: "abc").headerValue == "\"abc\"")
        #expect(EntityTag(opaque: "abc", isWeak: true).headerValue == "W/\"abc\"")
        #expect(EntityTag(opaque: "").headerValue == "\"\"")
    }

    @Test func entityTagListParsing() {
        #expect(EntityTag.parseList("\"a\", W/\"b\" ,\"\"") == [
            EntityTag(opaque: "a"), EntityTag(opaque: "b", isWeak: true), EntityTag(opaque: ""),
        ])
        #expect(EntityTag.parseList(" , \"a\",, ") == [EntityTag(opaque: "a")])
        #expect(EntityTag.parseList("\"é\"") == [EntityTag(opaque: "é")])  // obs-text
        for bad in ["*", "", " , ", "a", "\"a", "w/\"a\"", "W/a", "W\"a\"", "\"a\" \"b\"", "\"a\"x", "\"a b\"", "\"a\u{7F}\"", "\"a\",*"] {
            #expect(EntityTag.parseList(bad[...]) == nil, "\(bad)")
        }
        #expect(EntityTag.parse(" W/\"x\" ") == EntityTag(opaque: "x", isWeak: true))
        #expect(EntityTag.parse("\"x\",") == nil)
    }

    @Test func entityTagComparisons() {
        let strong = EntityTag(opaque: "1"), weak = EntityTag(opaque: "1", isWeak: true)
        #expect(strong.strongMatches(strong))
        #expect(!strong.strongMatches(weak) && !weak.strongMatches(weak))
        #expect(strong.weakMatches(weak) && weak.weakMatches(weak))
        #expect(!strong.weakMatches(EntityTag(opaque: "2")))
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = RangeFuzzRNG(state: 77)
        let pieces = ["\"", "W/", "w/", ",", " ", "*", "v1", "\t", "\u{7F}", "é", "Sun, 06 Nov 1994 08:49:37 GMT", "\0"]
        for _ in 0..<5000 {
            let text = (0..<Int(rng.next(upperBound: UInt64(10)))).map { _ in pieces[Int(rng.next(upperBound: UInt64(pieces.count)))] }.joined()
            let value = text[...]
            if let tags = EntityTag.parseList(value) {
                #expect(!tags.isEmpty && tags.allSatisfy { !$0.opaque.contains("\"") }, "\(text)")
            }
            let headers = ConditionalHeaders(ifMatch: value, ifNoneMatch: value, ifModifiedSince: value, ifUnmodifiedSince: value)
            _ = Conditional.evaluate(headers, validators: validators, isGetOrHead: true)
            // A partial response for If-Range needs our exact strong tag or our exact date in it.
            if Conditional.ifRangeAllowsPartial(value, validators: validators) {
                #expect(text.contains("\"v1\"") || text.contains("Sun, 06 Nov 1994 08:49:37 GMT"), "\(text)")
            }
        }
    }
}
