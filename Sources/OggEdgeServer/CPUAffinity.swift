#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The number of CPUs this process may run on (its affinity mask), which is what sizes thread
/// pools right under `taskset` or a container's CPU set. NIO sizes its event-loop group from the
/// machine's cores instead, so a process pinned to one core would run two loops that fight for it.
public enum CPUAffinity {
    /// CPUs in this process's affinity mask (`Cpus_allowed` of `/proc/self/status`, the mask
    /// `sched_getaffinity(2)` reports); the machine's online CPUs if it cannot be read.
    public static func allowedCPUs() -> Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return online }
        return count(mask: line.dropFirst("Cpus_allowed:".count)) ?? online
    }

    /// Bits set in a mask written as comma-separated hex words (`ff,ffffffff`); nil if malformed.
    static func count(mask: Substring) -> Int? {
        var bits = 0
        for ch in mask where ch != "," && ch != " " && ch != "\t" {
            guard let value = ch.hexDigitValue else { return nil }
            bits += value.nonzeroBitCount
        }
        return bits > 0 ? bits : nil
    }
}
