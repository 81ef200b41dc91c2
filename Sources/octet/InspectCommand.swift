import ArgumentParser
import Octet

/// `octet inspect`: the build report without running — every engine layer, the ONNX nodes it came from,
/// precision, input/output types, kernel, and why any layer is not INT8.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Print the engine's layers, precisions, types and kernels without running it.")

    @OptionGroup var engine: EngineOptions

    mutating func run() throws {
        let log = Log(verbose: false)
        if let loadEngine = engine.loadEngine {
            let loaded = try engine.loadedEngine(loadEngine, log: log)
            print("Builder options: \(loaded.plan.report.builderOptions.joined(separator: " "))")
            print(loaded.plan.report.text)
            return
        }
        let (network, _, _, _) = try engine.configuredNetwork(log: log)
        engine.reportRanges(log)
        let built = try engine.build(network, log: log)
        print(built.plan.report.text)
    }
}
