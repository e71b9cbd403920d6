#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, raised to what `--max-connections` needs.
public enum FileDescriptorLimit {
    /// Descriptors kept beside the connections: the cache, logs, the origin files of misses,
    /// encoders, Redis.
    public static let reserve = 256

    /// What raising the limit did.
    public struct Outcome: Sendable, Equatable {
        /// The soft limit before and after.
        public var before: Int
        public var after: Int
        /// Descriptors wanted (`connections + reserve`).
        public var wanted: Int
        /// True when the limit now covers what was wanted.
        public var isEnough: Bool { after >= wanted }
    }

    /// Raises the soft `RLIMIT_NOFILE` towards `connections + reserve`, never above the hard limit
    /// (an unprivileged process cannot pass it) and never lowering it.
    public static func raise(forConnections connections: Int) -> Outcome {
        var limit = rlimit()
        let wanted = connections + reserve
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return Outcome(before: 0, after: 0, wanted: wanted)
        }
        let before = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: Int.max
        guard before < wanted else { return Outcome(before: before, after: before, wanted: wanted) }
        let hard = Int(clamping: limit.rlim_max)
        let target = min(wanted, hard)
        guard target > before else { return Outcome(before: before, after: before, wanted: wanted) }
        limit.rlim_cur = rlim_t(target)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return Outcome(before: before, after: before, wanted: wanted)
        }
        return Outcome(before: before, after: target, wanted: wanted)
    }
}
