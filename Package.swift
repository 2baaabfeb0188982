// swift-tools-version: 6.1
// The CrocBot package: one engine for backtest and live trading.

import PackageDescription

/// Every CrocBot module is also compiled testable in release (`-enable-testing`: internal
/// declarations stay visible to `@testable import`), so the README's test command, `swift test -c
/// release --disable-testable-imports`, runs the tests against the very build `swift run -c release
/// crocbot` made: it compiles only the test targets (SwiftPM's own testable flag, which
/// `--disable-testable-imports` turns off, would recompile every dependency). The optimiser keeps
/// internal symbols it could otherwise drop; the benchmarks did not move (2026-12-07).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .unsafeFlags(["-enable-testing"], .when(configuration: .release)),
]

/// The `crocbot` command linked with the Swift runtime and Foundation statically on Linux: a
/// command then starts without the dynamic loader resolving ~21,000 symbol relocations
/// against libswiftCore and Foundation (about 5 ms of every command's start on the 2-core
/// machine). Foundation's static archives name their ICU and C shims, which the objects
/// compiled against the shared Foundation do not ask for, so they are listed here. The
/// static runtime's link arguments also export every symbol (`-export-dynamic`: 96,000 dynamic
/// symbols, which each `dladdr` at start-up walks — ~3 ms a command); nothing looks CrocBot's
/// symbols up by name, so they are not exported.
let staticRuntime: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections",
            "-Xlinker", "--no-export-dynamic",
        ],
        .when(platforms: [.linux])
    )
]

let package = Package(
    name: "CrocBot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "crocbot", targets: ["crocbot"]),
        .executable(name: "crocbench", targets: ["crocbench"]),
        .library(name: "CrocCore", targets: ["CrocCore"]),
        .library(name: "CrocData", targets: ["CrocData"]),
        .library(name: "CrocModels", targets: ["CrocModels"]),
        .library(name: "CrocStrategies", targets: ["CrocStrategies"]),
        .library(name: "CrocEngine", targets: ["CrocEngine"]),
        .library(name: "CrocExecution", targets: ["CrocExecution"]),
        .library(name: "CrocRuntime", targets: ["CrocRuntime"]),
        .library(name: "CrocPipelines", targets: ["CrocPipelines"]),
        .library(name: "CrocSupport", targets: ["CrocSupport"]),
        .library(name: "CrocAgent", targets: ["CrocAgent"]),
        .library(name: "CrocSweepPostgres", targets: ["CrocSweepPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The executor's queues (Deque).
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // The live endpoint (/metrics, /health, /api/status, /) and the tests' local exchange server.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Live market data over WebSocket (client), and the tests' local WebSocket server.
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // The refactor agent's code inspector parses Swift sources (CrocAgent only: it adds ~1.5 min to a cold build).
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
        // Sweeps across machines write to one PostgreSQL store (CrocSweepPostgres only).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Documentation only: `swift package generate-documentation` (a plugin; nothing is linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CrocSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "CrocCore", dependencies: ["CrocSupport"], swiftSettings: strictSettings),
        .target(name: "CrocData", dependencies: ["CrocCore"], swiftSettings: strictSettings),
        // The RL networks' dense kernels, in C: an AVX2 + FMA path chosen at run time beside a portable one;
        // and the commands' allocator settings (glibc's mallopt, which Swift's Glibc module does not export).
        .target(name: "CrocKernels"),
        .target(name: "CrocModels", dependencies: ["CrocCore", "CrocData", "CrocKernels", "CrocSupport"], swiftSettings: strictSettings),
        .target(name: "CrocStrategies", dependencies: ["CrocCore", "CrocData", "CrocModels", "CrocSupport"], swiftSettings: strictSettings),
        // The kernel backtests, paper and live share (TradingEngine, SimulatedExchange, RiskEngine, OrderRequest):
        // no IO and no heavy package, so backtests and sweeps link neither NIO nor an HTTP server.
        .target(name: "CrocEngine", dependencies: ["CrocCore", "CrocData", "CrocStrategies", "CrocSupport"], swiftSettings: strictSettings),
        .target(
            name: "CrocExecution",
            dependencies: [
                "CrocCore", "CrocEngine", "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CrocRuntime",
            dependencies: [
                "CrocCore", "CrocData", "CrocStrategies", "CrocEngine", "CrocExecution", "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CrocPipelines",
            dependencies: [
                "CrocCore", "CrocData", "CrocStrategies", "CrocEngine", "CrocSupport", "CrocKernels",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            // The PostgreSQL sweep store: postgres-nio stays out of the core targets.
            name: "CrocSweepPostgres",
            dependencies: [
                "CrocPipelines", "CrocSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "crocbot",
            dependencies: [
                "CrocCore", "CrocData", "CrocStrategies", "CrocEngine", "CrocExecution", "CrocRuntime", "CrocPipelines", "CrocSupport",
                "CrocAgent", "CrocSweepPostgres", "CrocKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The agent benchmark's scripted LLM server on 127.0.0.1.
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            // The sample data and example the defaults name, so the binary works from any directory.
            resources: [.copy("Defaults")],
            swiftSettings: strictSettings,
            linkerSettings: staticRuntime
        ),
        .target(
            // The refactor agent reads CrocBot's logs and metrics, never its types (DESIGN.md).
            name: "CrocAgent",
            dependencies: [
                "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "SwiftSyntax", package: "swift-syntax"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            // The benchmarks (engine, indicators, models, RL, executor, live loop, sweeps): built by the same
            // release build as crocbot, so CI and users compile every dependency once. `swift run -c release crocbench`.
            name: "crocbench",
            dependencies: [
                "CrocCore", "CrocData", "CrocModels", "CrocStrategies", "CrocEngine", "CrocExecution", "CrocRuntime", "CrocPipelines",
                "CrocKernels",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Benchmarks/Sources/CrocBench"
        ),
        .executableTarget(
            name: "blueprint-wiring",
            dependencies: ["CrocCore", "CrocData", "CrocStrategies", "CrocEngine", "CrocExecution", "CrocRuntime", "CrocSupport"],
            path: "Examples/BlueprintWiring",
            swiftSettings: strictSettings
        ),
        // What the tests share: repository paths, a quiet logger, temporary paths, the local Binance venue and the
        // fault-injecting proxy (not in any product).
        .target(
            name: "CrocTestSupport",
            dependencies: [
                "CrocCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/CrocTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "CrocCoreTests", dependencies: ["CrocCore", "CrocSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "CrocDataTests",
            dependencies: ["CrocTestSupport", "CrocData", "CrocCore", "CrocSupport"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocModelsTests",
            dependencies: ["CrocTestSupport", "CrocModels", "CrocData", "CrocCore", "CrocSupport", "CrocKernels"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "CrocStrategiesTests", dependencies: ["CrocStrategies", "CrocCore"], swiftSettings: strictSettings),
        // The kernel's tests build without NIO or an HTTP server, like the kernel.
        .testTarget(
            name: "CrocEngineTests",
            dependencies: ["CrocTestSupport", "CrocEngine", "CrocCore", "CrocData", "CrocStrategies", "CrocSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocExecutionTests",
            dependencies: [
                "CrocTestSupport",
                // CrocRuntime and CrocStrategies: the live-safety tests run the live loop against the local venue.
                "CrocExecution", "CrocEngine", "CrocCore", "CrocSupport", "CrocRuntime", "CrocStrategies",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocRuntimeTests",
            dependencies: [
                "CrocTestSupport",
                "CrocRuntime", "CrocEngine", "CrocCore", "CrocData", "CrocStrategies", "CrocExecution", "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocPipelinesTests",
            dependencies: [
                "CrocTestSupport",
                "CrocPipelines", "CrocEngine", "CrocCore", "CrocData", "CrocModels", "CrocStrategies", "CrocExecution", "CrocRuntime", "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocAgentTests",
            dependencies: [
                "CrocTestSupport",
                "CrocAgent", "CrocSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocSweepPostgresTests",
            dependencies: ["CrocTestSupport", "CrocSweepPostgres", "CrocPipelines", "CrocSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CrocSupportTests",
            dependencies: ["CrocTestSupport", "CrocSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
    ]
)
