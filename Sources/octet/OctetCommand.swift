import ArgumentParser
import Octet

@main
struct OctetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "INT8 inference for ONNX image classifiers, driven like TensorRT's sampleINT8API.",
        discussion: """
            With no subcommand, `octet` runs the bundled demo from data/int8_api/ and prints the top-5 classes.
            """,
        subcommands: [RunCommand.self, TensorsCommand.self, CalibrateCommand.self, CompareCommand.self, InspectCommand.self, BenchCommand.self, SelftestCommand.self, PreprocessCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
