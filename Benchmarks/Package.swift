// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that building and testing Weft never pulls in
// package-benchmark. Run: `cd Benchmarks && swift package benchmark`.
let package = Package(
    name: "WeftBenchmarks",
    dependencies: [
        .package(name: "Weft", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1",
                 traits: ["MallocInterposer"]),
    ],
    targets: [
        // The raw libsodium baseline calls C directly; only this shim includes the header.
        .systemLibrary(name: "CSodiumRaw", path: "Sources/CSodiumRaw", pkgConfig: "libsodium"),
        .executableTarget(
            name: "CryptoBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "WeftCrypto", package: "Weft"),
                "CSodiumRaw",
            ],
            path: "Benchmarks/CryptoBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The sans-I/O WireGuard data path (seal/open with framing, handshakes) against raw
        // libsodium, and cryptokey routing with 100k prefixes.
        .executableTarget(
            name: "DataPlaneBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "WeftCrypto", package: "Weft"),
                .product(name: "WeftDataPlane", package: "Weft"),
                .product(name: "WeftRouting", package: "Weft"),
                "BenchmarkSupport",
                "CSodiumRaw",
            ],
            path: "Benchmarks/DataPlaneBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // What the benchmarks share: a seeded generator for their fixtures.
        .target(name: "BenchmarkSupport", path: "Sources/BenchmarkSupport"),
        // The plain C Dijkstra that Weft's SPF is measured against.
        .target(name: "CDijkstra", path: "Sources/CDijkstra"),
        .executableTarget(
            name: "SPFBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "WeftOSPF", package: "Weft"),
                "BenchmarkSupport",
                "CDijkstra",
            ],
            path: "Benchmarks/SPFBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
