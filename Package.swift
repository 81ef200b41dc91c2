// swift-tools-version: 6.0
import PackageDescription

import Foundation

/// Octet's own debug builds (its tests) compile the numeric modules and the C kernels with optimization: the
/// reference executor is the oracle the tests run on real models, and unoptimized loops make `swift test` four
/// times slower and more. Those flags are `unsafeFlags`, which SwiftPM refuses in a package that is a
/// dependency, so they apply only where Octet is the root package; a package that depends on Octet (by URL, as
/// `Scripts/check-library-dependency.sh` checks) builds it with its own configuration like any dependency.
/// They change code generation only: the C kernels' rounding is pinned in their sources
/// (`#pragma STDC FP_CONTRACT OFF` in octet_internal.h), not by a flag.
let isRootPackage = !Context.packageDirectory.contains("/checkouts/")
    && ProcessInfo.processInfo.environment["OCTET_AS_DEPENDENCY"] == nil
let optimizedNumerics: [SwiftSetting] = isRootPackage ? [.unsafeFlags(["-O"])] : []
let optimizedKernels: [CSetting] = isRootPackage ? [.unsafeFlags(["-O3"])] : []

let package = Package(
    name: "Octet",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Octet", targets: ["Octet"]),
        .executable(name: "octet", targets: ["octet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        // The server (OctetServing, `octet serve`) only; the Octet library product depends on none of these.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "OctetCore"),
        .target(
            name: "OctetONNX",
            dependencies: ["OctetCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto"],
            swiftSettings: optimizedNumerics
        ),
        .target(name: "OctetQuantization", dependencies: ["OctetCore"], swiftSettings: optimizedNumerics),
        // The field's own decoders (Pillow decodes with the same libraries): system libraries found by pkg-config,
        // and a small C target that owns their setjmp/longjmp error handling, which Swift cannot do.
        .systemLibrary(name: "CJPEGTurbo", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .target(name: "COctetImageCodecs", dependencies: ["CJPEGTurbo", "CPNG"]),
        .target(name: "OctetImage", dependencies: ["OctetCore", "COctetImageCodecs"], swiftSettings: optimizedNumerics),
        .target(name: "OctetRuntime", dependencies: ["OctetCore", "OctetQuantization"], swiftSettings: optimizedNumerics),
        .target(name: "OctetBuilder", dependencies: ["OctetCore", "OctetQuantization", "OctetRuntime"]),
        .target(
            name: "OctetReference",
            dependencies: ["OctetCore", "OctetQuantization", "OctetRuntime"],
            swiftSettings: optimizedNumerics
        ),
        .target(
            name: "COctetCPUKernels",
            exclude: ["bench"],
            // -ffp-contract=off: a fused multiply-add would round differently from the reference epilogue.
            cSettings: optimizedKernels
        ),
        .target(
            name: "OctetCPU",
            dependencies: ["OctetCore", "OctetQuantization", "OctetRuntime", "OctetReference", "COctetCPUKernels"],
            swiftSettings: optimizedNumerics
        ),
        .target(
            name: "OctetCUDA",
            dependencies: ["OctetCore", "OctetQuantization", "OctetRuntime", "OctetReference"],
            exclude: ["Kernels"]
        ),
        .target(
            name: "Octet",
            dependencies: ["OctetCore", "OctetONNX", "OctetQuantization", "OctetImage", "OctetRuntime", "OctetBuilder", "OctetReference", "OctetCPU", "OctetCUDA"]
        ),
        // The seeded table of cases every backend must pass (swift test on the CPU, octet selftest everywhere).
        .target(name: "OctetConformance", dependencies: ["OctetCore", "OctetQuantization", "OctetRuntime", "OctetBuilder", "OctetReference"]),
        // `octet serve`: the Open Inference Protocol (KServe v2) over HTTP and gRPC, with dynamic batching.
        .target(
            name: "OctetServing",
            dependencies: [
                "Octet",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Proto"]
        ),
        .executableTarget(
            name: "octet",
            dependencies: ["Octet", "OctetConformance", "OctetServing", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "_OctetTestSupport", dependencies: ["Octet"], path: "Tests/_OctetTestSupport"),
        .testTarget(
            name: "OctetTests",
            dependencies: ["Octet", "OctetConformance", "OctetServing", "_OctetTestSupport", "octet"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
