// swift-tools-version:6.1
// Coverage-guided fuzz targets (libFuzzer) for every OggEdge parser that sees outside bytes.
// Built only by scripts/fuzz.sh, with `-sanitize=fuzzer` and testable imports of the main package:
//   swift build -c release -sanitize=fuzzer -Xswiftc -enable-testing --package-path fuzz
// Each executable is one libFuzzer target calling the real parser (see fuzz/README.md).
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // The targets hold only `LLVMFuzzerTestOneInput`; libFuzzer provides `main`.
    .unsafeFlags(["-parse-as-library"]),
]

/// One libFuzzer executable per parser.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, swiftSettings: swiftSettings)
}

let core = Target.Dependency.product(name: "OggEdgeCore", package: "oggedge")
let transcoder = Target.Dependency.product(name: "OggEdgeTranscoder", package: "oggedge")
let redis = Target.Dependency.product(name: "OggEdgeRedis", package: "oggedge")
let server = Target.Dependency.product(name: "OggEdgeServer", package: "oggedge")

let package = Package(
    name: "oggedge-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "oggedge", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [core], swiftSettings: swiftSettings),
        fuzzTarget("FuzzRequestTarget", [core]),
        fuzzTarget("FuzzRange", [core]),
        fuzzTarget("FuzzConditionals", [core]),
        fuzzTarget("FuzzOggPages", [core]),
        fuzzTarget("FuzzVorbisIdHeader", [core]),
        fuzzTarget("FuzzWAVHeader", [transcoder]),
        fuzzTarget("FuzzSpoolSegment", [redis]),
        fuzzTarget("FuzzBeaconJSON", [server, core]),
        fuzzTarget("FuzzStreamAPI", [server, core]),
        fuzzTarget("FuzzConfig", [server]),
    ],
    swiftLanguageModes: [.v6]
)
