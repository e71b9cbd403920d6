import OggEdgeCore
import Testing

/// Planning responses for a representation still being produced: the same planner, the live rules.
struct LivePlannerTests {
    private func plan(_ range: String?, produced: Int64, final: Bool = false, ifMatch: String? = nil, ifNoneMatch: String? = nil,
                      ifRange: String? = nil, isGetOrHead: Bool = true) -> LivePlan {
        DeliveryPlanner.planLive(
            DeliveryRequest(
                isGetOrHead: isGetOrHead, range: range.map { Substring($0) },
                conditionals: ConditionalHeaders(
                    ifMatch: ifMatch.map { Substring($0) }, ifNoneMatch: ifNoneMatch.map { Substring($0) },
                    ifRange: ifRange.map { Substring($0) }
                )
            ),
            produced: produced, final: final
        )
    }

    @Test func fromByteZeroStreams() {
        #expect(plan(nil, produced: 0) == .stream)
        #expect(plan("bytes=0-", produced: 10) == .stream)
        #expect(plan("bogus", produced: 10) == .stream)
        #expect(plan("bytes=5-9, 1-2, 3-4, 6-7", produced: 10) == .stream) // asks for more than exists
    }

    @Test func rangesOfProducedBytesAnswerAtOnceWithUnknownLength() {
        #expect(plan("bytes=2-5", produced: 10) == .partial(ByteRange(start: 2, end: 5)))
        #expect(plan("bytes=4-", produced: 10) == .partial(ByteRange(start: 4, end: 9)))
        #expect(plan("bytes=0-1,5-6", produced: 10) == .multipart([ByteRange(start: 0, end: 1), ByteRange(start: 5, end: 6)]))
        #expect(plan("bytes=0-1,2-3", produced: 10) == .partial(ByteRange(start: 0, end: 3)))
    }

    @Test func rangesBeyondWhatExistsWaitAndNeverOverflow() {
        #expect(plan("bytes=0-99", produced: 10) == .wait(until: 100))
        #expect(plan("bytes=20-", produced: 10) == .wait(until: 21))
        #expect(plan("bytes=-5", produced: 10) == .waitForEnd)
        #expect(plan("bytes=0-9223372036854775807", produced: 10) == .wait(until: .max))
        #expect(plan("bytes=9223372036854775807-", produced: 10) == .wait(until: .max))
        #expect(plan("bytes=9223372036854775806-9223372036854775807", produced: 10) == .wait(until: .max))
        // When no more waiting is possible, a closed range that starts inside gets what exists.
        #expect(plan("bytes=4-99", produced: 10, final: true) == .partial(ByteRange(start: 4, end: 9)))
        #expect(plan("bytes=0-9223372036854775807", produced: 10, final: true) == .partial(ByteRange(start: 0, end: 9)))
        #expect(plan("bytes=50-99", produced: 10, final: true) == .wait(until: 100))
    }

    @Test func thereIsNoValidatorYet() {
        #expect(plan("bytes=2-5", produced: 10, ifMatch: "\"abc\"") == .preconditionFailed)
        #expect(plan("bytes=2-5", produced: 10, ifMatch: "*") == .partial(ByteRange(start: 2, end: 5)))
        #expect(plan(nil, produced: 10, ifNoneMatch: "*") == .notModified)
        #expect(plan(nil, produced: 10, ifNoneMatch: "\"abc\"") == .stream)
        #expect(plan("bytes=2-5", produced: 10, ifRange: "\"abc\"") == .stream)
        #expect(plan("bytes=2-5", produced: 10, ifRange: "Sun, 06 Nov 1994 08:49:37 GMT") == .stream)
    }
}
