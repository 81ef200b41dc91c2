import OctetCore
import OctetQuantization
import OctetRuntime

/// Builds engines from network definitions, as TensorRT's `IBuilder` does: runs the graph passes, assigns
/// each layer a precision from the config, the user's per-layer requests and the dynamic ranges, inserts
/// reformat layers, and compiles the plan for a backend.
///
/// ```swift
/// var config = BuilderConfig(int8: true)
/// let engine = try Builder(config: config, backend: CPUBackend()).build(network)
/// ```
public struct Builder: Sendable {
    public var config: BuilderConfig
    public var backend: any Backend
    public var options: ExecutionOptions

    public init(config: BuilderConfig, backend: any Backend, options: ExecutionOptions = ExecutionOptions()) {
        self.config = config
        self.backend = backend
        self.options = options
    }

    /// Builds an engine. The network is not modified.
    public func build(_ network: Network) throws -> Engine {
        var plan = try makePlan(network)
        try askBackend(&plan)
        let program = try backend.compile(plan, options: options)
        for (index, kernel) in program.kernelNames.enumerated() where index < plan.report.layers.count {
            plan.report.layers[index].kernel = kernel
        }
        return Engine(plan: plan, program: program, backendName: backend.name)
    }

    /// Records in the report which layers the backend runs on the host reference implementation and why.
    /// `obey` refuses them (a layer that would silently run elsewhere than asked), and a layer the backend
    /// cannot run at all is always an error.
    public func askBackend(_ plan: inout EnginePlan) throws {
        for (index, layer) in plan.network.layers.enumerated() {
            switch backend.support(for: layer, in: plan) {
            case .native:
                continue
            case let .hostReference(reason):
                if config.obey {
                    throw OctetError.precisionConstraint(
                        layer: layer.name, reason: "the \(backend.name) backend has no kernel for it (\(reason)), and obey refuses the host reference implementation")
                }
                if index < plan.report.layers.count { plan.report.layers[index].hostReason = reason }
            case let .unsupported(reason):
                throw OctetError.invalidNetwork(reason: "the \(backend.name) backend cannot run layer '\(layer.name)': \(reason)")
            }
        }
    }

    /// The plan without compiling it: passes, precisions, tensor types, reformat layers, report.
    public func makePlan(_ network: Network) throws -> EnginePlan {
        try network.validate()
        var optimized = network
        var report = BuildReport()
        var passes: [any GraphPass] = [RemoveIdentityPass()]
        if !config.noFusion { passes += [FoldBatchNormPass(), FoldBiasAddPass(), FuseGeluPass(), FuseResidualAddPass(), FuseActivationPass()] }
        passes.append(RemoveDeadLayersPass())
        var changed = true
        while changed {
            changed = false
            for pass in passes {
                let log = pass.run(&optimized)
                report.passLog += log.map { "\(pass.name): \($0)" }
                changed = changed || !log.isEmpty
            }
        }
        var lowering: [any GraphPass] = [FlattenFullyConnectedPass()]
        if !config.noFusion { lowering.append(CancelReshapePairsPass()) }
        for pass in lowering { report.passLog += pass.run(&optimized).map { "\(pass.name): \($0)" } }
        report.builderOptions = config.summary
        var assignment = PrecisionAssignment(config: config, network: optimized, report: report, backend: backend)
        return try assignment.run()
    }
}
