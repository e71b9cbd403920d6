// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "oggedge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "oggedge", targets: ["oggedge"]),
        .executable(name: "oggedge-load", targets: ["oggedge-load"]),
        // For the fuzz package (fuzz/Package.swift), which links the real parsers.
        .library(name: "OggEdgeCore", targets: ["OggEdgeCore"]),
        .library(name: "OggEdgeTranscoder", targets: ["OggEdgeTranscoder"]),
        .library(name: "OggEdgeRedis", targets: ["OggEdgeRedis"]),
        .library(name: "OggEdgeServer", targets: ["OggEdgeServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // C shims over Debian's system libraries.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CVorbis", pkgConfig: "vorbisenc", providers: [.apt(["libvorbis-dev", "libogg-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // POSIX calls Glibc's Swift module does not expose (`preadv2` with `RWF_NOWAIT`, thread
        // scheduling policy and name).
        .target(name: "CPosix"),

        // Pure logic: signing, ranges, conditionals, Ogg pages, log records. No I/O.
        .target(
            name: "OggEdgeCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The LMDB chunk cache: chunks, metadata, one batching writer, LRU eviction.
        .target(
            name: "OggEdgeCache",
            dependencies: ["CLMDB", "CPosix"],
            swiftSettings: swiftSettings
        ),
        // On-demand transcoding with libvorbis: WAV or Ogg Vorbis in, Ogg Vorbis pages out.
        .target(
            name: "OggEdgeTranscoder",
            dependencies: ["CVorbis", "OggEdgeCore"],
            swiftSettings: swiftSettings
        ),
        // Ships delivery records to a Redis stream exactly once, through a local spool.
        .target(
            name: "OggEdgeRedis",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `oggedge report`: summaries of a delivery log.
        .target(
            name: "OggEdgeReport",
            dependencies: ["OggEdgeCore"],
            swiftSettings: swiftSettings
        ),
        // The byte path without HTTP: origins, fill sessions, readers, transcode scheduling, prewarm.
        .target(
            name: "OggEdgeDelivery",
            dependencies: [
                "CPosix",
                "OggEdgeCore",
                "OggEdgeCache",
                "OggEdgeTranscoder",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The streaming proxy's HTTP side: parents, signing, health, failover and resume.
        .target(
            name: "OggEdgeUpstream",
            dependencies: [
                "OggEdgeCore",
                "OggEdgeDelivery",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support shared by test targets: a real redis-server on a free loopback port.
        .target(
            name: "OggEdgeTesting",
            dependencies: ["OggEdgeRedis", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The HTTP origin: byte path, sources, delivery log, metrics, admin.
        .target(
            name: "OggEdgeServer",
            dependencies: [
                "OggEdgeCore",
                "OggEdgeCache",
                "OggEdgeDelivery",
                "OggEdgeTranscoder",
                "OggEdgeRedis",
                "OggEdgeUpstream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The reference player (/player/) and the ops page (/admin/ui/): static files, no build step.
            resources: [.copy("Web")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "oggedge",
            dependencies: [
                "OggEdgeCore",
                "OggEdgeServer",
                "OggEdgeReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // The open-loop load generator of bench/ttfb.sh: fixed arrival rates, TTFB from the intended send time.
        .executableTarget(
            name: "oggedge-load",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Trace-driven hit ratio of the chunk cache on the fleet's request stream (no HTTP).
        .target(
            name: "OggEdgeCacheReplay",
            dependencies: ["OggEdgeCache"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cache-replay",
            dependencies: ["OggEdgeCacheReplay"],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "transcode-bench",
            dependencies: ["OggEdgeTranscoder", "OggEdgeCore"],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "OggEdgeTranscoderTests",
            dependencies: ["OggEdgeTranscoder", "OggEdgeCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CLMDB", "CVorbis", "CHiredis"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OggEdgeCacheTests",
            dependencies: ["OggEdgeCache", "OggEdgeCacheReplay"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OggEdgeRedisTests",
            dependencies: [
                "OggEdgeRedis",
                "OggEdgeTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OggEdgeDeliveryTests",
            dependencies: ["OggEdgeDelivery", "OggEdgeCache", "OggEdgeCore", "OggEdgeTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OggEdgeReportTests",
            dependencies: ["OggEdgeReport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OggEdgeCoreTests",
            dependencies: ["OggEdgeCore"],
            swiftSettings: swiftSettings
        ),
        // Test-only: counts each thread's heap allocations (the fast lane's allocation budget).
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(
            name: "OggEdgeServerTests",
            dependencies: [
                "CAllocationCounter",
                "CPosix",
                "OggEdgeCore",
                "OggEdgeCache",
                "OggEdgeRedis",
                "OggEdgeTesting",
                "OggEdgeServer",
                "OggEdgeDelivery",
                "OggEdgeUpstream",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
