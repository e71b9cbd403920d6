import FuzzSupport
import OggEdgeCore

private let validators = Validators(etag: EntityTag(opaque: "a1b2c3-160"), lastModified: 1_764_000_000)

/// The conditional headers and entity tags: ``Conditional`` over five header values from the
/// input (`If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`, `If-Range`,
/// one per line), ``EntityTag`` parsing and ``HTTPDate``. Invariants: a parsed tag or list
/// survives a round trip through its header form, a parsed date through `HTTPDate.format`,
/// and the conditions agree with their definitions (`*` matches, a malformed `If-Match` fails).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConditionals(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(Fuzz.bytes(data, size))
    let absent = input.byte()
    let values = input.fields(5).enumerated().map { index, bytes -> Substring? in
        absent & (1 << index) != 0 ? nil : Substring(decoding: bytes, as: UTF8.self)
    }
    let headers = ConditionalHeaders(ifMatch: values[0], ifNoneMatch: values[1], ifModifiedSince: values[2],
                                     ifUnmodifiedSince: values[3], ifRange: values[4])
    for isGetOrHead in [true, false] {
        let outcome = Conditional.evaluate(headers, validators: validators, isGetOrHead: isGetOrHead)
        if !isGetOrHead { Fuzz.check(outcome != .notModified, "304 for a method other than GET/HEAD") }
        _ = Conditional.evaluateWithoutValidators(headers, isGetOrHead: isGetOrHead)
    }
    let allowsPartial = Conditional.ifRangeAllowsPartial(headers.ifRange, validators: validators)
    Fuzz.check(headers.ifRange != nil || allowsPartial, "absent If-Range refuses a range")
    for value in values.compactMap({ $0 }) {
        checkTags(value)
        checkDate(value)
    }
    return 0
}

private func checkTags(_ value: Substring) {
    if let tag = EntityTag.parse(value) {
        Fuzz.check(EntityTag.parse(Substring(tag.headerValue)) == tag, "tag \(tag.headerValue) does not round-trip")
        if !tag.isWeak, tag.opaque == validators.etag.opaque {
            Fuzz.check(Conditional.ifRangeAllowsPartial(value, validators: validators), "If-Range \(value) refused")
        }
    }
    if let tags = EntityTag.parseList(value) {
        let joined = tags.map(\.headerValue).joined(separator: ", ")
        Fuzz.check(EntityTag.parseList(Substring(joined)) == tags, "list \(joined) does not round-trip")
        let ifMatch = ConditionalHeaders(ifMatch: value)
        let matches = tags.contains { $0.strongMatches(validators.etag) }
        let outcome = Conditional.evaluate(ifMatch, validators: validators, isGetOrHead: true)
        Fuzz.check((outcome == .proceed) == matches, "If-Match \(value.debugDescription) → \(outcome)")
        let ifNoneMatch = ConditionalHeaders(ifNoneMatch: value)
        let weakMatch = tags.contains { $0.weakMatches(validators.etag) }
        let none = Conditional.evaluate(ifNoneMatch, validators: validators, isGetOrHead: true)
        Fuzz.check((none == .notModified) == weakMatch, "If-None-Match \(value.debugDescription) → \(none)")
    }
}

private func checkDate(_ value: Substring) {
    guard let date = HTTPDate.parse(value) else { return }
    let text = HTTPDate.format(date)
    Fuzz.check(HTTPDate.parse(Substring(text)) == date, "date \(date) from \(value.debugDescription) formats as \(text)")
    _ = HTTPDate.parse(value, now: date)
}
