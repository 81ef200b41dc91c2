import ArgumentParser
import Foundation
import Octet

@main
struct OctetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet",
        abstract: "INT8 inference for ONNX image classifiers, driven like TensorRT's sampleINT8API.",
        discussion: """
            With no subcommand, `octet` runs the bundled demo from data/int8_api/ and prints the top-5 classes.

            Exit status: 0 on success, 1 on any error (a malformed file, an impossible request, a usage error);
            the error is one sentence on standard error. A `run` that fails after printing `&&&& RUNNING`
            prints `&&&& FAILED` as TensorRT's samples do.
            """,
        version: "octet \(OctetVersion.current)",
        subcommands: [RunCommand.self, BuildCommand.self, TensorsCommand.self, CalibrateCommand.self, CompareCommand.self, EvalCommand.self, InspectCommand.self, BenchCommand.self, SelftestCommand.self, PreprocessCommand.self, ServeCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// ArgumentParser's `main`, except that every failure exits 1 (usage errors too, where ArgumentParser
    /// uses 64) and a test banner that was started ends in `&&&& FAILED`.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var served = command as? AsyncParsableCommand {
                try await served.run()  // `serve`; every other command is synchronous
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version: ArgumentParser prints them and exits 0
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            TestBanner.failIfStarted()
            Foundation.exit(1)
        }
    }
}

/// TensorRT samples' `&&&& RUNNING` / `PASSED` / `FAILED` lines on standard output, which test harnesses grep.
/// With `--json` they go to standard error (`toStandardError`), so standard output is JSON only.
enum TestBanner {
    nonisolated(unsafe) private static var started: String?
    nonisolated(unsafe) static var toStandardError = false

    private static func write(_ line: String) {
        if toStandardError {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            print(line)
        }
    }

    /// Prints `&&&& RUNNING name # command line` and remembers it for `passed()` or a failure.
    static func start(_ name: String) {
        started = "\(name) # \((["octet"] + CommandLine.arguments.dropFirst()).joined(separator: " "))"
        write("&&&& RUNNING \(started ?? name)")
    }

    static func passed() {
        guard let started else { return }
        write("&&&& PASSED \(started)")
        Self.started = nil
    }

    static func failIfStarted() {
        guard let started else { return }
        write("&&&& FAILED \(started)")
        Self.started = nil
    }
}
