import OggEdgeCore
import Testing

struct DeliveryPlannerTests {
    let validators = Validators(etag: EntityTag(opaque: "abc"), lastModified: 784_111_777) // Sun, 06 Nov 1994 08:49:37 GMT
    let length: Int64 = 1000

    func plan(range: String? = nil, _ c: ConditionalHeaders = .init(), getOrHead: Bool = true) -> DeliveryPlan {
        DeliveryPlanner.plan(
            DeliveryRequest(isGetOrHead: getOrHead, range: range.map { Substring($0) }, conditionals: c),
            validators: validators, length: length
        )
    }

    @Test func noHeadersIsFull() { #expect(plan() == .full) }

    @Test func rangesBecomePartialOrMultipart() {
        #expect(plan(range: "bytes=0-9") == .partial(ByteRange(start: 0, end: 9)))
        #expect(plan(range: "bytes=0-9,20-29") == .multipart([ByteRange(start: 0, end: 9), ByteRange(start: 20, end: 29)]))
        #expect(plan(range: "bytes=1000-") == .unsatisfiable)
        #expect(plan(range: "bytes=x") == .full)
    }

    @Test func ifNoneMatchWinsOverRange() {
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifNoneMatch: "\"abc\"")) == .notModified)
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifNoneMatch: "W/\"abc\"")) == .notModified) // weak comparison for INM
        #expect(plan(ConditionalHeaders(ifNoneMatch: "*")) == .notModified)
        #expect(plan(ConditionalHeaders(ifNoneMatch: "\"zzz\"")) == .full)
    }

    @Test func ifModifiedSince() {
        #expect(plan(ConditionalHeaders(ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")) == .notModified)
        #expect(plan(ConditionalHeaders(ifModifiedSince: "Sat, 05 Nov 1994 08:49:37 GMT")) == .full)
        #expect(plan(ConditionalHeaders(ifModifiedSince: "garbage")) == .full)
        // Ignored when If-None-Match is present.
        #expect(plan(ConditionalHeaders(ifNoneMatch: "\"zzz\"", ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")) == .full)
    }

    @Test func ifMatchAndIfUnmodifiedSince() {
        #expect(plan(ConditionalHeaders(ifMatch: "\"zzz\"")) == .preconditionFailed)
        #expect(plan(ConditionalHeaders(ifMatch: "\"abc\"")) == .full)
        #expect(plan(ConditionalHeaders(ifUnmodifiedSince: "Sat, 05 Nov 1994 08:49:37 GMT")) == .preconditionFailed)
    }

    @Test func ifRangeGatesTheRange() {
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifRange: "\"abc\"")) == .partial(ByteRange(start: 0, end: 9)))
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifRange: "W/\"abc\"")) == .full)
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifRange: "\"old\"")) == .full)
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifRange: "Sun, 06 Nov 1994 08:49:37 GMT")) == .partial(ByteRange(start: 0, end: 9)))
        #expect(plan(range: "bytes=0-9", ConditionalHeaders(ifRange: "Sun, 06 Nov 1994 08:49:38 GMT")) == .full)
    }

    @Test func statusCodes() {
        #expect(DeliveryPlan.full.status == 200)
        #expect(DeliveryPlan.partial(ByteRange(start: 0, end: 0)).status == 206)
        #expect(DeliveryPlan.notModified.status == 304)
        #expect(DeliveryPlan.unsatisfiable.status == 416)
    }
}
