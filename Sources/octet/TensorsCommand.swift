import ArgumentParser
import Foundation
import Octet

/// `octet tensors`: the names a range file can use, as sampleINT8API's `--write_tensors` writes them.
struct TensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensors",
        abstract: "List the network's tensors (inputs, then every layer output) as 'TensorName: NAME' lines."
    )

    @Option(name: .customLong("model"), help: "ONNX model file.")
    var model: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        let (network, _) = try ONNXImporter.importModel(path: model)
        if let output {
            try Self.write(network, to: output)
        } else {
            print(Self.text(network), terminator: "")
        }
    }

    static func text(_ network: Network) -> String {
        network.executionTensorNames.map { "TensorName: \($0)\n" }.joined()
    }

    static func write(_ network: Network, to path: String) throws {
        do {
            try text(network).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw OctetError.io(path: path, reason: "cannot write the tensor list")
        }
    }
}
