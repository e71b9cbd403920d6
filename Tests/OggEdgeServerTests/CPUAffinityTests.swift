import Testing
@testable import OggEdgeServer

/// Event loops are sized to the CPUs the process may run on (`taskset -c 0` → one loop).
struct CPUAffinityTests {
    @Test func masksAreCountedBitByBit() {
        #expect(CPUAffinity.count(mask: "\t1") == 1)
        #expect(CPUAffinity.count(mask: " 3") == 2)
        #expect(CPUAffinity.count(mask: "ff,ffffffff") == 40)
        #expect(CPUAffinity.count(mask: "00000000,00000004") == 1)
        #expect(CPUAffinity.count(mask: "0") == nil)
        #expect(CPUAffinity.count(mask: "zz") == nil)
    }

    @Test func thisProcessMayRunOnAtLeastOneCPU() {
        #expect(CPUAffinity.allowedCPUs() >= 1)
    }
}
