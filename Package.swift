// swift-tools-version:6.1
import PackageDescription

// Weft: an embeddable userspace WireGuard + VXLAN data plane with in-process OSPF.
//
// Module names carry a `Weft` prefix so that an embedding package never clashes with
// swift-crypto's `Crypto` or another package's `Routing`; the folders keep the short names.
let package = Package(
    name: "Weft",
    products: [
        .library(name: "WeftCrypto", targets: ["WeftCrypto"]),
        .library(name: "WeftRouting", targets: ["WeftRouting"]),
        .library(name: "WeftOSPF", targets: ["WeftOSPF"]),
        .library(name: "WeftDataPlane", targets: ["WeftDataPlane"]),
        .library(name: "WeftControlShim", targets: ["WeftControlShim"]),
        .executable(name: "weft", targets: ["weft"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML for the node configuration file (ControlShim/Config).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C shims: the only places that include C headers. Swift callers see typed wrappers.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CURing", path: "Sources/CURing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "CMnl", path: "Sources/CMnl", pkgConfig: "libmnl",
                       providers: [.apt(["libmnl-dev"])]),
        // Linux bits Swift cannot call directly: variadic ioctl, cmsg macros, sockaddr unions.
        .target(name: "CLinux", path: "Sources/CLinux"),

        .target(name: "WeftCrypto", dependencies: ["CSodium"], path: "Sources/Crypto"),
        .target(name: "WeftRouting", path: "Sources/Routing"),
        .target(name: "WeftOSPF", dependencies: ["WeftCrypto"], path: "Sources/OSPF"),
        .target(name: "WeftDataPlane",
                dependencies: ["WeftCrypto", "WeftRouting", "CURing", "CLinux"],
                path: "Sources/DataPlane"),
        .target(name: "WeftControlShim",
                dependencies: ["WeftCrypto", "WeftDataPlane", "WeftRouting", "WeftOSPF", "CMnl", "CLinux",
                               .product(name: "Yams", package: "Yams")],
                path: "Sources/ControlShim"),
        .executableTarget(name: "weft",
                          dependencies: [
                              "WeftCrypto", "WeftDataPlane", "WeftControlShim", "WeftOSPF", "CLinux",
                              .product(name: "ArgumentParser", package: "swift-argument-parser"),
                          ],
                          path: "Sources/weft"),
        // The README's embedding example: a program that runs one interface through the library.
        .executableTarget(name: "weft-embed-example",
                          dependencies: ["WeftCrypto", "WeftDataPlane", "WeftRouting"],
                          path: "Examples/EmbedNode"),

        // Coverage-guided fuzz targets (libFuzzer). `scripts/fuzz` builds them with
        // `--sanitize fuzzer -Xswiftc -DFUZZING`; a plain build makes them reproducers that run
        // the same check on the files named on the command line.
        .executableTarget(name: "FuzzWireGuardMessages", dependencies: ["WeftCrypto", "WeftDataPlane", "WeftRouting"],
                          path: "Fuzz/FuzzWireGuardMessages"),
        .executableTarget(name: "FuzzUAPI", dependencies: ["WeftCrypto", "WeftDataPlane", "WeftControlShim"],
                          path: "Fuzz/FuzzUAPI"),
        .executableTarget(name: "FuzzEndpointAndPrefix", dependencies: ["WeftDataPlane", "WeftRouting"],
                          path: "Fuzz/FuzzEndpointAndPrefix"),
        .executableTarget(name: "FuzzOverlayFrames", dependencies: ["WeftDataPlane", "WeftRouting"],
                          path: "Fuzz/FuzzOverlayFrames"),
        // One OSPF target per packet type, sharing the router setup and the checks.
        .target(name: "FuzzOSPFHarness", dependencies: ["WeftOSPF"], path: "Fuzz/FuzzOSPFHarness"),
        .executableTarget(name: "FuzzOSPFHello", dependencies: ["FuzzOSPFHarness", "WeftOSPF"],
                          path: "Fuzz/FuzzOSPFHello"),
        .executableTarget(name: "FuzzOSPFDatabaseDescription", dependencies: ["FuzzOSPFHarness", "WeftOSPF"],
                          path: "Fuzz/FuzzOSPFDatabaseDescription"),
        .executableTarget(name: "FuzzOSPFLinkStateRequest", dependencies: ["FuzzOSPFHarness", "WeftOSPF"],
                          path: "Fuzz/FuzzOSPFLinkStateRequest"),
        .executableTarget(name: "FuzzOSPFLinkStateUpdate", dependencies: ["FuzzOSPFHarness", "WeftOSPF"],
                          path: "Fuzz/FuzzOSPFLinkStateUpdate"),
        .executableTarget(name: "FuzzOSPFLinkStateAck", dependencies: ["FuzzOSPFHarness", "WeftOSPF"],
                          path: "Fuzz/FuzzOSPFLinkStateAck"),

        .testTarget(name: "WeftCryptoTests", dependencies: ["WeftCrypto"]),
        .testTarget(name: "WeftRoutingTests", dependencies: ["WeftRouting"]),
        .testTarget(name: "WeftOSPFTests", dependencies: ["WeftOSPF"]),
        .testTarget(name: "WeftDataPlaneTests", dependencies: ["WeftDataPlane"]),
        .testTarget(name: "WeftControlShimTests", dependencies: ["WeftControlShim"]),
        // Runs the real tools (wg, wireguard-go, bird, tshark) and the built `weft` binary.
        .testTarget(name: "InteropTests", dependencies: ["WeftCrypto", "CLinux", "weft"]),
    ]
)
