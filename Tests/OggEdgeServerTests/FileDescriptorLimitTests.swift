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
}
