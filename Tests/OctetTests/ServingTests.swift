import Foundation
import Testing
import _OctetTestSupport

/// `octet serve` as its users call it: the real Triton clients (`tritonclient.http` and `tritonclient.grpc`, run by
/// Tests/Serving/serve_client.py) against the built binary on free loopback ports, with answers compared to
/// what `octet run` prints for the same inputs. Skipped, with a message, where Python lacks tritonclient
/// (`.ci/run` installs it).
@Suite(.serialized, .enabled(if: TritonClients.available, "tritonclient[http,grpc] is not importable by python3: the serving tests are skipped (pip install 'tritonclient[http,grpc]' numpy)"))
struct ServingTests {
    let root = TestPaths.packageRoot()
    var demo: URL { root.appendingPathComponent("data/int8_api") }
    var script: String { root.appendingPathComponent("Tests/Serving/serve_client.py").path }
    var photo: String { root.appendingPathComponent("Tests/OctetTests/Fixtures/images/coffee_300x201.jpg").path }

    /// A repository with the demo model in INT8 with its ranges and labels, and `config` added to its config.json;
    /// with `engine`, the folder holds `model.engine` built from them by `octet build` instead of `model.onnx`
    /// (and `keepModel` leaves the model beside it).
    private func repository(_ config: [String: Any] = [:], engine: Bool = false, keepModel: Bool = false) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("octet-serve-\(UUID().uuidString)/demo")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let ranges = "efficientnet_lite0_per_tensor_dynamic_range.txt"
        for name in ["efficientnet_lite0.onnx", ranges, "reference_labels.txt"] {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(name), to: folder.appendingPathComponent(name == "efficientnet_lite0.onnx" ? "model.onnx" : name))
        }
        if engine {
            let model = folder.appendingPathComponent("model.onnx")
            let build = try OctetBinary.run(["build", "--model", model.path, "--ranges", folder.appendingPathComponent(ranges).path,
                                             "--save-engine", folder.appendingPathComponent("model.engine").path])
            #expect(build.status == 0, "\(build.stderr)")
            if !keepModel { try FileManager.default.removeItem(at: model) }
        }
        let settings: [String: Any] = (engine ? [:] : ["ranges": ranges]).merging(["labels": "reference_labels.txt", "max_batch_size": 8]) { $1 }
            .merging(config) { $1 }
        try JSONSerialization.data(withJSONObject: settings).write(to: folder.appendingPathComponent("config.json"))
        return folder.deletingLastPathComponent()
    }

    /// What `octet run` computes for the photo: the preprocessed input, the output for it, and the top-5 JSON.
    private func expected(in directory: URL) throws -> (input: String, output: String, top5: String) {
        let model = demo.appendingPathComponent("efficientnet_lite0.onnx").path
        let ranges = demo.appendingPathComponent("efficientnet_lite0_per_tensor_dynamic_range.txt").path
        let input = directory.appendingPathComponent("x.npy").path, output = directory.appendingPathComponent("y.npy").path
        let preprocess = try OctetBinary.run(["preprocess", "--image", photo, "--model", model, "-o", input])
        #expect(preprocess.status == 0, "\(preprocess.stderr)")
        let run = try OctetBinary.run(["run", "--model", model, "--ranges", ranges, "--load-inputs", input, "--save-outputs", output, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let classify = try OctetBinary.run(["run", "--model", model, "--ranges", ranges, "--image", photo, "--reference", demo.appendingPathComponent("reference_labels.txt").path, "--json"])
        #expect(classify.status == 0, "\(classify.stderr)")
        let top5 = directory.appendingPathComponent("run.json").path
        try classify.stdout.write(toFile: top5, atomically: true, encoding: .utf8)
        return (input, output, top5)
    }

    /// The same answers whether the folder holds the ONNX model (built at start) or an engine file built from it.
    @Test(arguments: [false, true])
    func tritonClientsGetOctetRunsAnswers(fromEngineFile: Bool) throws {
        let repository = try repository(["dynamic_batching": ["max_queue_delay_microseconds": 1000]], engine: fromEngineFile)
        defer { try? FileManager.default.removeItem(at: repository) }
        let (input, output, top5) = try expected(in: repository)
        let server = try ServerProcess(repository: repository.path)
        defer { server.stop() }
        let client = try OctetBinary.runProgram("/usr/bin/env", ["python3", script, "--http", server.http, "--grpc", server.grpc, "--metrics", server.metrics,
            "--model", "demo", "--input", input, "--output", output, "--image", photo, "--top5", top5])
        #expect(client.status == 0, "\(client.stdout)\(client.stderr)\nserver log:\n\(server.log)")
        #expect(client.stdout.contains(" passed, 0 failed"))
        #expect(server.terminate() == 0, "server log:\n\(server.log)")
        #expect(server.log.contains("shut down: every accepted request was answered"))
    }

    /// SIGTERM while requests wait in the batching queue (a 2 s delay holds them): each is answered, then the
    /// server exits 0.
    @Test func sigtermAnswersEveryAcceptedRequest() throws {
        let repository = try repository(["max_batch_size": 16, "dynamic_batching": ["max_queue_delay_microseconds": 2_000_000]])
        defer { try? FileManager.default.removeItem(at: repository) }
        let (input, output, _) = try expected(in: repository)
        let server = try ServerProcess(repository: repository.path)
        defer { server.stop() }
        let client = try OctetBinary.runProgram("/usr/bin/env", ["python3", script, "--http", server.http, "--model", "demo",
            "--input", input, "--output", output, "--drain", "\(server.process.processIdentifier)", "--requests", "8"])
        #expect(client.status == 0, "\(client.stdout)\(client.stderr)\nserver log:\n\(server.log)")
        #expect(server.wait() == 0, "server log:\n\(server.log)")
    }

    @Test func aRepositoryThatCannotBeServedIsOneSentence() throws {
        let repository = try repository(["max_batch_size": "eight"])
        defer { try? FileManager.default.removeItem(at: repository) }
        let result = try OctetBinary.run(["serve", "--model-repository", repository.path, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("config.json") && result.stderr.contains("max_batch_size"), "\(result.stderr)")
        // An engine file fixes what a build decides: a configuration that names ranges is refused, and so is a
        // folder that holds both the model and an engine.
        for (config, keepModel, words) in [(["ranges": "efficientnet_lite0_per_tensor_dynamic_range.txt"], false, ["config.json", "ranges", "model.engine"]),
                                           ([:], true, ["both", "model.onnx", "model.engine"])] {
            let engineRepository = try self.repository(config, engine: true, keepModel: keepModel)
            defer { try? FileManager.default.removeItem(at: engineRepository) }
            let refused = try OctetBinary.run(["serve", "--model-repository", engineRepository.path, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"])
            #expect(refused.status == 1)
            #expect(words.allSatisfy(refused.stderr.contains) && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        }
    }
}

/// Whether python3 can import the Triton clients the serving tests drive.
enum TritonClients {
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy, tritonclient.http, tritonclient.grpc"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}

extension OctetBinary {
    /// Runs another program (the Python client) to completion.
    static func runProgram(_ path: String, _ arguments: [String]) throws -> CommandResult {
        try run(arguments, executable: URL(fileURLWithPath: path))
    }
}

/// `octet serve` on free loopback ports (port 0), with its log collected; the ports are read from the log's
/// `... listening on HOST:PORT` lines.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var text = ""
    private(set) var http = "", grpc = "", metrics = ""

    var log: String { lock.withLock { text } }

    init(repository: String) throws {
        process.executableURL = OctetBinary.url
        process.arguments = ["serve", "--model-repository", repository, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.text += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, process.isRunning {
            if let http = address("HTTP"), let grpc = address("gRPC"), let metrics = address("metrics") {
                (self.http, self.grpc, self.metrics) = (http, grpc, metrics)
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "octet serve did not start listening:\n\(log)"])
    }

    private func address(_ what: String) -> String? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("\(what) listening on ") }) else { return nil }
        return line.components(separatedBy: "\(what) listening on ").last?.trimmingCharacters(in: .whitespaces)
    }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        process.terminate()
        return wait()
    }

    func wait() -> Int32 {
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.2)  // the last log lines
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}
