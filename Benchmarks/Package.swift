// swift-tools-version: 6.1
// Benchmarks for CrocBot, in their own package so users of the library never build them.
// Run: cd Benchmarks && swift run -c release crocbench

import PackageDescription

let package = Package(
    name: "CrocBotBenchmarks",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "crocbench", targets: ["CrocBench"])],
    dependencies: [
        .package(name: "CrocBot", path: ".."),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "CrocBench",
            dependencies: [
                .product(name: "CrocCore", package: "CrocBot"),
                .product(name: "CrocData", package: "CrocBot"),
                .product(name: "CrocModels", package: "CrocBot"),
                .product(name: "CrocStrategies", package: "CrocBot"),
                .product(name: "CrocExecution", package: "CrocBot"),
                .product(name: "CrocRuntime", package: "CrocBot"),
                .product(name: "CrocPipelines", package: "CrocBot"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/CrocBench"
        )
    ]
)
