import Foundation
import OctetBuilder
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The conformance suite every backend passes: one seeded table of cases (`cases`), each built by the builder for
/// the backend under test and for the reference executor, then compared tensor by tensor. `swift test` runs it on
/// the CPU; `octet selftest` runs it on the CPU and, with `--device cuda`, on every CUDA kernel variant.
///
/// ```swift
/// for c in ConformanceSuite.cases {
///     let outcome = try ConformanceSuite.check(c, on: CPUBackend())
///     if !outcome.passed { print(outcome.summary) }
/// }
/// ```
public enum ConformanceSuite {
    /// What one case gave on one backend.
    public struct Outcome: Sendable {
        public var testCase: ConformanceCase
        public var backend: String
        /// Integer tensors compared, and those that differed from the reference.
        public var integerTensors = 0
        public var mismatches: [String] = []
        /// The largest relative L2 error of a float tensor.
        public var worstFloatError = 0.0
        /// Float tensors within the tolerance but not bit-identical to the reference (a different summation order or
        /// math function): harmless alone, but where one feeds a quantizer, a value can round to the other side of a
        /// step, so the integer tensors after it differ on real models. The self-test reports them.
        public var inexactFloats: [String] = []
        /// Whether running again without observing tensors (the fast path: CUDA graphs) gave the same outputs.
        public var replayAgrees = true
        /// Whether the engine saved and loaded again (`check`'s `reload`) gave the same outputs; nil when not tried.
        public var loadedAgrees: Bool?
        /// Layers the backend ran on the host reference implementation.
        public var hostLayers: [String] = []

        /// The tolerance for float tensors (integer tensors must be equal).
        public static let floatTolerance = 1e-5

        public var passed: Bool { mismatches.isEmpty && worstFloatError <= Self.floatTolerance && replayAgrees && loadedAgrees != false }

        public var summary: String {
            let integers = mismatches.isEmpty ? "\(integerTensors) integer tensors exact" : "MISMATCH in \(mismatches.joined(separator: ", "))"
            let replay = (replayAgrees ? "" : ", replay without observation DIFFERS")
                + (loadedAgrees.map { $0 ? ", engine file round trip identical" : ", engine saved and loaded DIFFERS" } ?? "")
            let host = hostLayers.isEmpty ? "" : ", host: \(hostLayers.joined(separator: ", "))"
            let inexact = inexactFloats.isEmpty ? "" : " (not bit-identical: \(inexactFloats.joined(separator: ", ")))"
            return "\(passed ? "ok" : "FAILED") \(backend): \(testCase): \(integers), float relative L2 \(String(format: "%.2g", worstFloatError))\(inexact)\(replay)\(host)"
        }
    }

    /// The builder configuration of an arithmetic.
    public static func config(_ arithmetic: ConformanceCase.Arithmetic) -> BuilderConfig {
        var config = BuilderConfig()
        switch arithmetic {
        case .fp32: break
        case .int8: config.int8 = true
        case .int8TensorRT:
            config.int8 = true
            config.trtCompatibleRanges = true
        case .int8ZeroPoints:
            config.int8 = true
            config.explicitQuantization = true
        }
        return config
    }

    /// Runs one case on `backend` and on the reference executor (the same plan) and compares every tensor.
    /// `reload`, when given, saves the built engine and loads it back (`Engine.serialize`, `EngineLoadingBackend`):
    /// the loaded engine's outputs must equal the built one's bit for bit.
    public static func check(
        _ testCase: ConformanceCase, on backend: any Backend, options: ExecutionOptions = ExecutionOptions(threads: 2),
        reload: ((Engine) throws -> Engine)? = nil
    ) throws -> Outcome {
        let (network, input) = try testCase.network()
        let engine = try Builder(config: config(testCase.arithmetic), backend: backend, options: options).build(network)
        let inputs = [network[network.inputs[0]].name: input]
        var expected: [TensorID: TensorValue] = [:]
        _ = try QuantizedReferenceExecutor(plan: engine.plan).run(inputs) { id, value in expected[id] = value }

        var outcome = Outcome(testCase: testCase, backend: backend.name)
        outcome.hostLayers = engine.plan.report.hostLayers.map(\.name)
        let context = engine.makeContext()
        let observed = try context.execute(inputs) { id, value in
            let name = engine.plan.network[id].name
            guard let want = expected[id] else {
                outcome.mismatches.append("\(name) (no reference value)")
                return
            }
            switch (value, want) {
            case (.quantized, .quantized):
                outcome.integerTensors += 1
                if value != want { outcome.mismatches.append(name) }
            case let (.float(got), .float(reference)):
                outcome.worstFloatError = max(outcome.worstFloatError, TensorComparison.relativeL2(got.values, reference.values))
                if !got.values.elementsEqual(reference.values, by: { $0.bitPattern == $1.bitPattern }) { outcome.inexactFloats.append(name) }
            case (.quantized, .float), (.float, .quantized):
                outcome.mismatches.append("\(name) (stored as another type)")
            }
        }
        outcome.replayAgrees = try context.execute(inputs) == observed
        if let reload { outcome.loadedAgrees = try reload(engine).makeContext().execute(inputs) == observed }
        return outcome
    }
}
