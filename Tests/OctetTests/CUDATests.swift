import Foundation
import Testing
import _OctetTestSupport
@testable import OctetCUDA
import Octet

/// CUDA runs only where a driver is present (the GPU machine runs `octet selftest --device cuda`); elsewhere
/// these tests skip and say why. The embedded kernel sources must match the .cu files they come from.
@Suite struct CUDATests {
    static let cudaMissing: String? = {
        do {
            _ = try CUDADriver()
            return nil
        } catch {
            return "\(error)"
        }
    }()

    @Test func embeddedKernelSourcesMatchTheCUFiles() throws {
        let directory = TestPaths.packageRoot().appendingPathComponent("Sources/OctetCUDA/Kernels")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".cu") || $0.hasSuffix(".cuh") }
        #expect(Set(files) == Set(KernelSources.files.keys), "run Scripts/embed-cuda-kernels.sh")
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(KernelSources.files[file].map { $0 + "\n" } == text, "\(file) changed: run Scripts/embed-cuda-kernels.sh")
        }
    }

    @Test(.enabled(if: CUDATests.cudaMissing == nil, Comment(rawValue: "CUDA tests skipped: \(CUDATests.cudaMissing ?? "")")))
    func kernelsMatchTheReferenceOnTheGPU() throws {
        #expect(try CUDASelfTest.run { print($0) } == 0)
    }

    @Test func cudaWithoutADriverIsAClearError() throws {
        guard let reason = Self.cudaMissing else { return }
        #expect(reason.contains("libcuda") || reason.contains("NVRTC"))
        let result = try OctetBinary.run(["run", "--device", "cuda", "--model", TestPaths.packageRoot().appendingPathComponent("data/int8_api/efficientnet_lite0.onnx").path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("CUDA"))
        let selftest = try OctetBinary.run(["selftest", "--device", "cuda"])
        #expect(selftest.status == 1)
        #expect(selftest.stderr.contains("libcuda.so.1"))
        let calibrate = try OctetBinary.run(["calibrate", "--device", "cuda", "--model", "data/int8_api/efficientnet_lite0.onnx", "--images", "data/int8_api", "--output", "/dev/null"], in: TestPaths.packageRoot())
        #expect(calibrate.status == 1)
        #expect(calibrate.stderr.contains("CUDA is not available"))
    }

    /// `--device auto` runs on the CPU when there is no GPU, and `compare --versus cpu` (the check that CUDA
    /// engines equal CPU engines) reports identical integer tensors when both sides are the CPU.
    @Test func autoDeviceAndCompareVersusCPU() throws {
        guard Self.cudaMissing != nil else { return }
        let root = TestPaths.packageRoot()
        let auto = try OctetBinary.run(["run", "--device", "auto", "--verbose"], in: root)
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect((auto.stdout + auto.stderr).contains("Device: cpu"))
        let compare = try OctetBinary.run(["compare", "--versus", "cpu", "--device", "cpu", "--images", "data/int8_api"], in: root)
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(compare.stdout.contains("integer tensors identical"))
        #expect(compare.stdout.contains("top-1 agreement 1/1"))
    }

    /// OCTET_FORCE_GENERIC=1 selects the scalar kernels, and the INT8 engine's output is then identical to the
    /// SIMD one (the integer arithmetic is the same everywhere).
    @Test func forcedGenericKernelsGiveIdenticalResults() throws {
        let generic = try OctetBinary.run(["selftest"], environment: ["OCTET_FORCE_GENERIC": "1"])
        #expect(generic.status == 0)
        #expect(generic.stdout.contains("(kernels in use: scalar)"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-generic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = TestPaths.packageRoot().appendingPathComponent("data/int8_api")
        var outputs: [Data] = []
        for environment in [[:], ["OCTET_FORCE_GENERIC": "1"]] {
            let out = directory.appendingPathComponent("out\(outputs.count).npy").path
            let result = try OctetBinary.run(
                ["run", "--model", root.appendingPathComponent("efficientnet_lite0.onnx").path,
                 "--ranges", root.appendingPathComponent("efficientnet_lite0_per_tensor_dynamic_range.txt").path,
                 "--image", root.appendingPathComponent("coffee.ppm").path, "--save-outputs", out],
                environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test func cpuSelftestPasses() throws {
        let result = try OctetBinary.run(["selftest"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("&&&& PASSED Octet.selftest\n"))
    }
}
