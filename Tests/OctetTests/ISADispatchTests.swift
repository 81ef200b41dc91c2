import COctetCPUKernels
import Foundation
import Testing
import _OctetTestSupport

/// Run-time ISA choice of the CPU kernels through the environment (dispatch.c): OCTET_FORCE_ISA picks any ISA the
/// machine has, refuses (one stderr line, hardware choice kept) one it lacks or does not know, yields to
/// OCTET_FORCE_GENERIC=1; and every ISA gives the INT8 engine byte-identical outputs.
@Suite struct ISADispatchTests {
    static let supported: [String] = (0..<Int32(OCTET_ISA_COUNT)).filter { octet_cpu_isa_supported($0) != 0 }
        .map { String(cString: octet_cpu_isa_name($0)) }
    static let hardware = String(cString: octet_cpu_isa_name(octet_cpu_hardware_isa()))

    @Test func forcedISAIsUsedAndNamed() throws {
        for name in Self.supported {
            let result = try OctetBinary.run(["selftest"], environment: ["OCTET_FORCE_ISA": name])
            #expect(result.status == 0, "\(name): \(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("(kernels in use: \(name))"), "\(name): \(result.stdout)")
            #expect(!result.stderr.contains("refused"))
        }
    }

    @Test func unknownOrMissingISAIsRefusedLoudly() throws {
        var refusals = ["sse9"]
        for isa in 0..<Int32(OCTET_ISA_COUNT) where octet_cpu_isa_supported(isa) == 0 {
            refusals.append(String(cString: octet_cpu_isa_name(isa)))
        }
        for name in refusals {
            let result = try OctetBinary.run(["selftest"], environment: ["OCTET_FORCE_ISA": name])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stderr.contains("OCTET_FORCE_ISA=\(name) refused"), "\(name): \(result.stderr)")
            #expect(result.stdout.contains("(kernels in use: \(Self.hardware))"), "\(name): \(result.stdout)")
        }
    }

    @Test func forceGenericTakesPrecedence() throws {
        let result = try OctetBinary.run(["selftest"], environment: ["OCTET_FORCE_GENERIC": "1", "OCTET_FORCE_ISA": Self.hardware])
        #expect(result.status == 0)
        #expect(result.stdout.contains("(kernels in use: scalar)"))
    }

    /// EfficientNet-Lite0 INT8 on a photo under every ISA this machine has: the saved output is the same bytes
    /// as under OCTET_FORCE_GENERIC=1 (the last layer writes floats from exact integer accumulators, so even the
    /// float output must agree bit for bit).
    @Test func everyISAGivesIdenticalINT8Outputs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-isa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = TestPaths.packageRoot().appendingPathComponent("data/int8_api")
        let environments = [["OCTET_FORCE_GENERIC": "1"]] + Self.supported.filter { $0 != "scalar" }.map { ["OCTET_FORCE_ISA": $0] }
        var outputs: [Data] = []
        for environment in environments {
            let out = directory.appendingPathComponent("out\(outputs.count).npy").path
            let result = try OctetBinary.run(
                ["run", "--model", root.appendingPathComponent("efficientnet_lite0.onnx").path,
                 "--ranges", root.appendingPathComponent("efficientnet_lite0_per_tensor_dynamic_range.txt").path,
                 "--image", root.appendingPathComponent("coffee.ppm").path, "--save-outputs", out],
                environment: environment)
            #expect(result.status == 0, "\(environment): \(result.stderr)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            #expect(outputs.last == outputs.first, "\(environment) differs from OCTET_FORCE_GENERIC=1")
        }
    }
}
