// swift-tools-version: 6.1
// Benchmarks for CrocBot, in their own package so users of the library never build them.
// Run: cd Benchmarks && swift run -c release crocbench

import PackageDescription

let package = Package(
    name: "CrocBotBenchmarks",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "crocbench", targets: ["CrocBench"])],
    dependencies: [
        .package(name: "CrocBot", path: "..")
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
            ],
            path: "Sources/CrocBench"
        )
    ]
)
