import OggEdgeCore
@testable import OggEdgeServer
import Testing

/// The order of delivery records between the general path and the fast lane: a fast answer's
/// record waits only for general responses of its rendition that were out when it was logged.
@Suite struct UnloggedResponsesTests {
    static func record(_ id: String) -> DeliveryRecord {
        DeliveryRecord(timestampMs: 0, requestId: id, clientIP: "127.0.0.1", method: "GET", path: "/tracks/a_160kbps.ogg")
    }

    @Test func withNothingOutAFastRecordIsWrittenAtOnce() {
        let unlogged = UnloggedResponses()
        #expect(!unlogged.holdIfPending("a/160", Self.record("f1")))
        let ticket = unlogged.begin("b/160")
        #expect(!unlogged.holdIfPending("a/160", Self.record("f2")), "another rendition's ticket holds nothing back")
        var written: [String] = []
        unlogged.end("b/160", ticket: ticket) { written.append($0.requestId) }
        #expect(written.isEmpty)
    }

    @Test func aHeldRecordWaitsForTheTicketsOutWhenItWasLoggedAndNoLater() {
        let unlogged = UnloggedResponses()
        var written: [String] = []
        let first = unlogged.begin("a/160")
        #expect(unlogged.holdIfPending("a/160", Self.record("f1")))
        let second = unlogged.begin("a/160")   // starts after f1 was logged: f1 does not wait for it
        #expect(unlogged.holdIfPending("a/160", Self.record("f2")))
        unlogged.end("a/160", ticket: first) { written.append($0.requestId) }
        #expect(written == ["f1"])
        let third = unlogged.begin("a/160")
        unlogged.end("a/160", ticket: second) { written.append($0.requestId) }
        #expect(written == ["f1", "f2"], "f2 waited for the second ticket only, not the third")
        #expect(unlogged.holdIfPending("a/160", Self.record("f3")), "the third ticket is still out")
        unlogged.end("a/160", ticket: third) { written.append($0.requestId) }
        #expect(written == ["f1", "f2", "f3"])
        #expect(!unlogged.holdIfPending("a/160", Self.record("f4")))
    }

    @Test func ticketsComingBackOutOfOrderReleaseRecordsInOrder() {
        let unlogged = UnloggedResponses()
        var written: [String] = []
        let first = unlogged.begin("a/160")
        let second = unlogged.begin("a/160")
        #expect(unlogged.holdIfPending("a/160", Self.record("f1")))
        unlogged.end("a/160", ticket: second) { written.append($0.requestId) }
        #expect(written.isEmpty, "the first ticket is still out")
        #expect(unlogged.holdIfPending("a/160", Self.record("f2")))
        unlogged.end("a/160", ticket: first) { written.append($0.requestId) }
        #expect(written == ["f1", "f2"])
    }
}
