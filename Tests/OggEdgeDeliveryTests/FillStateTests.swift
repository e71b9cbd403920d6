import Testing
@testable import OggEdgeDelivery

/// The fill session's state machine, driven step by step: no threads, no sleeps.
struct FillStateTests {
    @Test func sequentialBytesAreCutIntoChunksAndWakeWaitersByThreshold() {
        var state = FillState(chunkSize: 4, isSequential: true, retainsChunks: false)
        let early = state.reserveWaiter()
        let late = state.reserveWaiter()
        #expect(state.register(early, untilProduced: 3) == true)
        #expect(state.register(late, untilProduced: 9) == true)
        let first = state.append([1, 2, 3, 4, 5], firstAudioPageEnd: nil)
        #expect(first.chunks.map(\.0) == [0])
        #expect(first.chunks.first?.1 == [1, 2, 3, 4])
        #expect(first.woken == [early])
        #expect(state.produced == 5)
        // The growing last chunk is lent when it covers what is asked, not before.
        #expect(state.claim(1, through: 0) == .ready([5]))
        #expect(state.claim(1, through: 1) == .notProduced)
        #expect(state.claim(0, through: 3) == .ready([1, 2, 3, 4]))
        state.committed(0)
        #expect(state.claim(0, through: 3) == .released)
        let end = state.complete()
        #expect(end.last?.0 == 1 && end.last?.1 == [5])
        #expect(end.woken == [late])
        #expect(state.phase == .complete(length: 5))
        // Nothing waits on a complete session.
        let after = state.reserveWaiter()
        #expect(state.register(after, untilProduced: 100) == false)
    }

    @Test func aWaitThatTimesOutBeforeRegisteringDoesNotWait() {
        var state = FillState(chunkSize: 4, isSequential: true, retainsChunks: false)
        let id = state.reserveWaiter()
        #expect(state.expire(id) == false) // the timeout fired first
        #expect(state.register(id, untilProduced: 1) == false)
        let other = state.reserveWaiter()
        #expect(state.register(other, untilProduced: 1) == true)
        #expect(state.expire(other) == true) // registered: the caller resumes it
        #expect(state.append([0], firstAudioPageEnd: nil).woken.isEmpty)
    }

    @Test func randomAccessLoadsAreCoalescedAndAFailedLoadIsRetried() {
        var state = FillState(chunkSize: 4, isSequential: false, retainsChunks: false)
        #expect(state.claim(2, through: 3) == .load)
        guard case .join(let a) = state.claim(2, through: 1), case .join(let b) = state.claim(2, through: 0) else {
            Issue.record("later readers must join the load")
            return
        }
        #expect(state.loaded(2, nil).sorted() == [a, b].sorted())
        #expect(state.claim(2, through: 3) == .load) // a failed load is not remembered
        #expect(state.loaded(2, [9, 9, 9, 9]).isEmpty)
        #expect(state.claim(2, through: 3) == .ready([9, 9, 9, 9]))
        state.committed(2)
        #expect(state.claim(2, through: 3) == .load)
    }

    @Test func failingWakesEveryoneAndADetachedSessionKeepsItsChunks() {
        var state = FillState(chunkSize: 2, isSequential: true, retainsChunks: false)
        let id = state.reserveWaiter()
        #expect(state.register(id, untilProduced: 10) == true)
        _ = state.append([1, 2, 3], firstAudioPageEnd: 3)
        #expect(state.firstAudioPageEnd == 3)
        state.retainFromNowOn()
        state.committed(0)
        #expect(state.claim(0, through: 1) == .ready([1, 2]))
        #expect(state.fail("corrupt_master") == [id])
        #expect(state.phase == .failed(reason: "corrupt_master"))
        #expect(state.append([4], firstAudioPageEnd: nil).chunks.isEmpty)
    }
}

/// A join that loses the race against the load it joined must not wait at all.
struct FillStateJoinRaceTests {
    @Test func aJoinWhoseLoadEndedBeforeItWaitsIsNotWaiting() {
        var state = FillState(chunkSize: 4, isSequential: false, retainsChunks: false)
        #expect(state.claim(0, through: 3) == .load)
        guard case .join(let id) = state.claim(0, through: 3) else {
            Issue.record("expected a join")
            return
        }
        #expect(state.isJoined(id) == true)
        _ = state.loaded(0, [1, 2, 3, 4])
        #expect(state.isJoined(id) == false)
    }
}

/// A chunk the cache could not store.
struct FillStateDroppedChunkTests {
    @Test func aDroppedEncodedChunkStaysHeldAndMarksTheSessionIncomplete() {
        var state = FillState(chunkSize: 2, isSequential: true, retainsChunks: false)
        _ = state.append([1, 2, 3, 4], firstAudioPageEnd: nil)
        state.committed(0, stored: true)
        state.committed(1, stored: false)
        #expect(state.claim(0, through: 1) == .released)
        #expect(state.claim(1, through: 1) == .ready([3, 4]))
        #expect(state.incompleteInCache)
    }

    @Test func aDroppedFileChunkIsLoadedAgainLater() {
        var state = FillState(chunkSize: 2, isSequential: false, retainsChunks: false)
        #expect(state.claim(0, through: 1) == .load)
        _ = state.loaded(0, [1, 2])
        state.committed(0, stored: false)
        #expect(state.claim(0, through: 1) == .load)
        #expect(!state.incompleteInCache)
    }

    /// A chunk queued for the writer to read from the file: counted as on its way to the cache,
    /// never queued twice, taken over by a reader that needs its bytes meanwhile (it loads them
    /// itself), and forgotten when the writer is done unless a reader took it over.
    @Test func aQueuedChunkIsHeldUntilDequeuedAndAReaderLoadsItItself() {
        var state = FillState(chunkSize: 4, isSequential: false, retainsChunks: false)
        let first = state.queue(1), again = state.queue(1)
        #expect(first && !again)
        #expect(state.isHeld(1) && state.isPending(1))
        #expect(state.queuedChunks == 1)
        #expect(state.provide(1, [1, 2, 3, 4]) == .present)
        state.dequeued(1)
        #expect(!state.isHeld(1) && !state.isPending(1))
        let requeued = state.queue(1)
        #expect(requeued)
        #expect(state.claim(1, through: 3) == .load)
        #expect(state.queuedChunks == 0)
        state.dequeued(1)  // the writer finishing does not end the reader's load
        guard case .join = state.claim(1, through: 0) else {
            Issue.record("a later reader must join the load that took the queued chunk over")
            return
        }
        _ = state.loaded(1, [5, 6, 7, 8])
        #expect(state.claim(1, through: 3) == .ready([5, 6, 7, 8]))
        let queuedWhileHeld = state.queue(1)
        #expect(!queuedWhileHeld)
        var sequential = FillState(chunkSize: 4, isSequential: true, retainsChunks: false)
        let queuedSequential = sequential.queue(0)
        #expect(!queuedSequential)
    }
}
