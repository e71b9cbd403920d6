import Foundation
import FuzzSupport
@testable import OggEdgeServer

/// The config file (`--config`, a flat JSON object): ``ConfigurationLoader/parseFile(_:path:)``
/// then the whole load with those settings, as the server starts. Invariants: a loaded
/// configuration holds only values within the documented ranges.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? ConfigurationLoader.parseFile(Data(bytes: data, count: size), path: "fuzz.json") else { return 0 }
    Fuzz.check(file.keys.allSatisfy(ConfigurationLoader.settingNames.contains), "unknown setting in \(file.keys)")
    guard let config = try? ConfigurationLoader.load(flags: [:], environment: [:], file: file) else { return 0 }
    Fuzz.check((0...65535).contains(config.port), "port \(config.port)")
    Fuzz.check(!config.host.isEmpty && !config.keys.keys.isEmpty, "host or keys empty")
    Fuzz.check(config.cacheMaxBytes >= 0 && config.deliveryLogRotateBytes >= 0, "negative sizes")
    Fuzz.check((1...1_000_000).contains(config.limits.maxConnections), "max connections \(config.limits.maxConnections)")
    Fuzz.check((0...300).contains(config.limits.liveRangeWaitSeconds), "live wait \(config.limits.liveRangeWaitSeconds)")
    return 0
}
