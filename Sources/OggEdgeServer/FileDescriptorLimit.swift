#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, raised to what `--max-connections` needs, and what it leaves
/// for the rendition files the fast lane keeps open.
public enum FileDescriptorLimit {
    /// Descriptors kept beside the connections: the cache, logs, the origin files of misses,
    /// encoders, Redis.
    public static let reserve = 256

    /// Most rendition files one event loop keeps open to send bodies with `sendfile` (a
    /// rendition past it is opened for each answer, or its body copied from the cache).
    public static let originFilesPerLoop = 1024

    /// Rendition files each of `loops` event loops may keep open: what the soft limit leaves
    /// after `connections` and the ``reserve``, shared among the loops, at most
    /// ``originFilesPerLoop``.
    public static func originFileBudget(connections: Int, loops: Int) -> Int {
        var limit = rlimit()
        guard loops > 0, getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let soft = Int(clamping: limit.rlim_cur)
        let spare = soft > connections + reserve ? soft - connections - reserve : 0
        return min(originFilesPerLoop, spare / loops)
    }

    /// What raising the limit did.
    public struct Outcome: Sendable, Equatable {
        /// The soft limit before and after.
        public var before: Int
        public var after: Int
        /// Descriptors the connections need (`connections + reserve`).
        public var wanted: Int
        /// True when the limit now covers the connections (the files each loop keeps open
        /// shrink to fit what is left: ``originFileBudget(connections:loops:)``).
        public var isEnough: Bool { after >= wanted }
    }

    /// Raises the soft `RLIMIT_NOFILE` towards `connections + reserve` plus
    /// ``originFilesPerLoop`` for each of `loops`, never above the hard limit (an unprivileged
    /// process cannot pass it) and never lowering it.
    public static func raise(forConnections connections: Int, loops: Int = 0) -> Outcome {
        var limit = rlimit()
        let wanted = connections + reserve
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return Outcome(before: 0, after: 0, wanted: wanted)
        }
        let before = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: Int.max
        let wantedWithFiles = wanted + max(0, loops) * originFilesPerLoop
        guard before < wantedWithFiles else { return Outcome(before: before, after: before, wanted: wanted) }
        let hard = Int(clamping: limit.rlim_max)
        let target = min(wantedWithFiles, hard)
        guard target > before else { return Outcome(before: before, after: before, wanted: wanted) }
        limit.rlim_cur = rlim_t(target)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return Outcome(before: before, after: before, wanted: wanted)
        }
        return Outcome(before: before, after: target, wanted: wanted)
    }
}
