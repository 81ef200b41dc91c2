// swift-tools-version: 6.0
import PackageDescription

/// libFuzzer harnesses, one per parser, kept out of the root package so `swift test` and CI never build them.
/// Build and run them with `Fuzz/run.sh` (it passes `-sanitize=fuzzer` and `-parse-as-library`). Each harness
/// defines `LLVMFuzzerTestOneInput` and `<Module>_main`, the entry SwiftPM aliases `main` to, which starts
/// libFuzzer's driver (`CFuzzerDriver`).
let harnesses = ["FuzzONNX", "FuzzPPM", "FuzzImage", "FuzzRangeFile", "FuzzCalibrationCache", "FuzzNumPy", "FuzzEngineFile", "FuzzInferenceRequest"]

let package = Package(
    name: "OctetFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "Octet", path: "..")],
    targets: [.target(name: "CFuzzerDriver")] + harnesses.map {
        .executableTarget(name: $0, dependencies: ["CFuzzerDriver", .product(name: "Octet", package: "Octet")])
    }
)
