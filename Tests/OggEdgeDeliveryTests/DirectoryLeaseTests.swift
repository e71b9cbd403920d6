import Foundation
import OggEdgeCache
import OggEdgeCore
import Testing
@testable import OggEdgeDelivery

/// The lease the fast lane keeps on the directory's "complete and fresh": it must stop holding
/// at the directory's next change (a purge, another install) and when the origin check expires.
@Suite struct DirectoryLeaseTests {
    @Test func aLeaseHoldsUntilTheDirectoryChangesOrItsCheckExpires() async throws {
        let (dir, _) = try RenditionReaderTests.media()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ChunkStore(directory: dir + "/cache", maxBytes: 64 << 20)
        defer { store.close() }
        let directory = RenditionDirectory(mediaDirectory: dir, store: store, revalidateInterval: .seconds(60))
        let track = try TrackPath(trackId: "x", kbps: 160)
        _ = try await directory.attach(track)
        let now = MonotonicClock.nanos()
        let (session, lease) = try #require(directory.freshComplete(track, key: track.renditionKey, now: now))
        let held = try #require(lease, "a file in tracks/ gets a lease")
        #expect(held.version == directory.version)
        #expect(held.until > now && held.until <= now + 60_000_000_000)
        // Asking again changes nothing: the same session, the same lease.
        let again = try #require(directory.freshComplete(track, key: track.renditionKey, now: now))
        #expect(again.session === session && again.lease?.version == held.version)
        // Past the check's expiry the directory is asked again and renews it: not a change
        // (the same version is answered), so leases other loops hold on it still hold.
        let later = held.until + 1
        let renewed = try #require(directory.freshComplete(track, key: track.renditionKey, now: later))
        #expect(renewed.session === session)
        #expect(directory.version == held.version)
        #expect(renewed.lease?.version == held.version && (renewed.lease?.until ?? 0) > held.until)
        // The general path's renewal is not a change either.
        _ = try await directory.attach(track)
        #expect(directory.version == held.version)
        // A purge is a change: the lease taken before no longer holds, and nothing is fresh.
        let before = directory.version
        _ = await directory.purge([track.renditionKey])
        #expect(directory.version != before)
        #expect(directory.freshComplete(track, key: track.renditionKey, now: later) == nil)
    }
}
