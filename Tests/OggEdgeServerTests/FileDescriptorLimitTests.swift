#if canImport(Glibc)
import Glibc
#endif
import OggEdgeServer
import Testing

/// `--max-connections` raises the open-file limit as far as the hard limit allows, never lowers it.
struct FileDescriptorLimitTests {
    @Test func raisesTowardsWhatTheConnectionsNeedButNotPastTheHardLimit() {
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        let hard = Int(clamping: limit.rlim_max)
        let small = FileDescriptorLimit.raise(forConnections: 16)
        #expect(small.after >= small.before)
        #expect(small.wanted == 16 + FileDescriptorLimit.reserve)
        #expect(small.isEnough)
        let huge = FileDescriptorLimit.raise(forConnections: 1 << 40)
        #expect(!huge.isEnough)
        #expect(huge.after >= huge.before)
        #expect(huge.after <= hard)
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(Int(clamping: limit.rlim_cur) == huge.after)
    }

    /// The rendition files a loop keeps open come out of what the connections leave, shared
    /// among the loops, and never more than the per-loop bound.
    @Test func openRenditionFilesShareWhatTheConnectionsLeave() {
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        let soft = Int(clamping: limit.rlim_cur)
        let reserve = FileDescriptorLimit.reserve
        #expect(FileDescriptorLimit.originFileBudget(connections: soft, loops: 2) == 0)
        #expect(FileDescriptorLimit.originFileBudget(connections: 16, loops: 0) == 0)
        for loops in [1, 2, 7] {
            let budget = FileDescriptorLimit.originFileBudget(connections: 16, loops: loops)
            #expect(budget == min(FileDescriptorLimit.originFilesPerLoop, max(0, soft - 16 - reserve) / loops))
            #expect(budget * loops + 16 + reserve <= max(soft, 16 + reserve))
        }
    }
}
