// cache-replay: the chunk cache's hit ratio on the fleet's request stream, without the fleet
// (see `CacheReplay`). Usage:
//   cache-replay [--alpha A] [--fraction F] [--plays N] [--warmup N] [--edges E] [--players P] [--seed S] [--dir DIR]
#if canImport(Glibc)
import Glibc
#endif
import OggEdgeCacheReplay

var configuration = CacheReplay.Configuration(directory: "/dev/shm")
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let flag = args.removeFirst()
    guard let value = args.first else { print("missing value for \(flag)"); exit(2) }
    args.removeFirst()
    switch flag {
    case "--alpha": configuration.alpha = Double(value) ?? configuration.alpha
    case "--fraction": configuration.cacheFraction = Double(value) ?? configuration.cacheFraction
    case "--plays": configuration.plays = Int(value) ?? configuration.plays
    case "--warmup": configuration.warmupPlays = Int(value) ?? configuration.warmupPlays
    case "--edges": configuration.edges = Int(value) ?? configuration.edges
    case "--players": configuration.players = Int(value) ?? configuration.players
    case "--seed": configuration.seed = UInt64(value) ?? configuration.seed
    case "--dir": configuration.directory = value
    default: print("unknown flag \(flag)"); exit(2)
    }
}
let c = configuration
print("alpha \(c.alpha), cache \(c.cacheFraction) of the catalogue per edge, \(c.edges) edges, \(c.tracks) tracks of \(c.trackBytes) bytes, \(c.plays) plays, \(c.players) at a time (first \(c.warmupPlays) left out), seed \(c.seed)")
let result = try await CacheReplay(configuration).run()
print(result)
