// ThreadSanitizer on Linux does not see the lock of Synchronization.Mutex: two threads that
// only touch a value inside `withLock` are reported as a "Swift access race". Run:
//   swiftc -sanitize=thread -Onone scripts/tsan-mutex-probe.swift -o /tmp/probe && /tmp/probe
// It prints warnings and then 20000 (every increment counted: no race). The reports of
// `scripts/sanitize.sh thread` are of this kind (see docs/RELIABILITY.md, "Sanitizers").
import Synchronization
import Foundation
struct S { var a: [Int: Int] = [:]; mutating func add(_ k: Int) { a[k, default: 0] += 1 } }
final class Box: Sendable { let m = Mutex<(S, Int)>((S(), 0)) }
let box = Box()
let threads = (0..<2).map { i in Thread { for j in 0..<10000 { box.m.withLock { s in s.0.add(j % 7); s.1 += 1 } } } }
threads.forEach { $0.start() }
Thread.sleep(forTimeInterval: 1)
print(box.m.withLock { $0.1 })
