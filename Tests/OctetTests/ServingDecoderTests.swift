import Foundation
import Testing
import _OctetTestSupport
import Octet
@testable import OctetServing

/// The request decoder and answer encoder of `octet serve` (JSON and Triton's binary tensor data), and the batch
/// scheduler, without sockets; ServingTests calls the running server with the real clients.
@Suite struct ServingDecoderTests {
    private func body(_ json: String, binary: [UInt8] = []) -> ([UInt8], Int) {
        let header = Array(json.utf8)
        return (header + binary, header.count)
    }

    private func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    @Test func jsonDataMayBeNestedAndIsReadRowMajor() throws {
        let request = try RESTCodec.decodeRequest(Array(#"{"id":"7","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[[1,2,3],[4,5.5,-6e-3]]}],"outputs":[{"name":"y","parameters":{"classification":3,"binary_data":false}}]}"#.utf8), headerLength: nil)
        #expect(request.id == "7")
        guard case let .floats(values) = request.inputs[0].contents else { Issue.record("not FP32"); return }
        #expect(values == [1, 2, 3, 4, 5.5, -6e-3])
        #expect(request.inputs[0].shape == [2, 3])
        #expect(request.outputs?.first?.classification == 3 && request.outputs?.first?.binary == false)
    }

    @Test func binaryTensorsFollowTheHeaderInInputOrder() throws {
        let images: [UInt8] = [3, 0, 0, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0]
        let (bytes, length) = body(#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"i","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}],"parameters":{"binary_data_output":true}}"#,
                                   binary: floatBytes([1.5, -2]) + images)
        let request = try RESTCodec.decodeRequest(bytes, headerLength: length)
        guard case let .floats(values) = request.inputs[0].contents, case let .bytes(files) = request.inputs[1].contents else {
            Issue.record("wrong contents"); return
        }
        #expect(values == [1.5, -2])
        #expect(files == [Data("abc".utf8), Data()])
        #expect(request.binaryOutputs)
    }

    /// Every malformed body is one sentence of kind invalidRequest, never a trap.
    @Test(arguments: [
        (#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}"#, [UInt8](repeating: 0, count: 12), "only 12 bytes"),
        (#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, [UInt8](repeating: 0, count: 8), "take 16"),
        (#"{"inputs":[{"name":"i","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}"#, [200, 0, 0, 0, 1, 2], "runs past"),
        (#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, [UInt8](repeating: 0, count: 9), "after the last binary input"),
        (#"{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}"#, [], "more than 2^31"),
        (#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#, [], "non-negative integers"),
        (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"a"]}]}"#, [], "not a number"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[true]}]}"#, [], "not a number"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"FLOAT","data":[1]}]}"#, [], "unknown datatype"),
        (#"{"inputs":[]}"#, [], "non-empty array"),
        (#"[1,2]"#, [], "not a JSON object"),
        // Fuzz/findings/request-crash-7c58ffd0…: a name with a newline made the refusal two lines.
        (#"{"inputs":[{"name":"a\nb","shape":[1,2],"datatype":"FP32","datb":[[1.5,-2]]}]}"#, [], #"'a\u{a}b' has neither"#),
    ] as [(String, [UInt8], String)])
    func malformedBodiesAreRefusedWithOneSentence(json: String, binary: [UInt8], expected: String) {
        let (bytes, length) = body(json, binary: binary)
        do {
            _ = try RESTCodec.decodeRequest(bytes, headerLength: binary.isEmpty ? nil : length)
            Issue.record("accepted: \(json)")
        } catch {
            #expect(error.kind == .invalidRequest)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func binaryAnswersCarryTheHeaderLengthAndLittleEndianValues() throws {
        let response = InferenceResponse(modelName: "m", modelVersion: "1", id: "q\"1", outputs: [
            InferenceOutput(name: "y", datatype: .fp32, shape: [1, 2], contents: .floats([0.25, -1]), binary: true),
            InferenceOutput(name: "c", datatype: .bytes, shape: [1, 1], contents: .bytes([Data("0.5:3:cat".utf8)]), binary: false),
        ])
        let (bytes, length) = RESTCodec.encodeResponse(response)
        let headerLength = try #require(length)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[0..<headerLength])) as? [String: Any])
        #expect(header["id"] as? String == "q\"1")
        let outputs = try #require(header["outputs"] as? [[String: Any]])
        #expect((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 8)
        #expect(outputs[1]["data"] as? [String] == ["0.5:3:cat"])
        #expect(RESTCodec.littleEndianFloats(bytes[headerLength...]) == [0.25, -1])
    }

    /// The caffe2-style ResNet fixture as an FP32 CPU engine: small, any batch size.
    private func fixtureEngine() throws -> (Network, Engine) {
        let fixture = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/caffe2_style_resnet.onnx").path
        let (network, _) = try ONNXImporter.importModel(path: fixture)
        return (network, try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network))
    }

    /// Requests of batch 1, 2 and 3 submitted together run as one execution of 6 (the delay holds the first until
    /// the batch is full, however slowly a loaded machine submits the others), and each gets exactly its own rows:
    /// those a direct execution of its input gives.
    @Test func dynamicBatchingCombinesRequestsOfDifferentSizes() async throws {
        let (network, engine) = try fixtureEngine()
        let settings = BatchScheduler.Settings(instances: 1, maxBatchSize: 6, maxQueueDelay: .seconds(600), maxQueueSize: 8, queueTimeout: .seconds(900))
        let scheduler = BatchScheduler(engine: engine, settings: settings, metrics: nil)
        scheduler.start()
        let input = network[network.inputs[0]]
        let requests = [1, 2, 3].enumerated().map { index, n in
            [input.name: TensorData.random([n] + input.shape.dropFirst(), seed: UInt64(index + 1))]
        }
        let completions = try await withThrowingTaskGroup(of: (Int, BatchScheduler.Completion).self) { group in
            for (index, inputs) in requests.enumerated() {
                group.addTask { (index, try await scheduler.submit(inputs, samples: index + 1)) }
            }
            var results: [Int: BatchScheduler.Completion] = [:]
            for try await (index, completion) in group { results[index] = completion }
            return results
        }
        await scheduler.stop()
        let context = engine.makeContext()
        for (index, inputs) in requests.enumerated() {
            let completion = try #require(completions[index])
            #expect(completion.executionBatchSize == 6)
            let alone = try context.execute(inputs)
            for (name, expected) in alone {
                let got = try #require(completion.outputs[name])
                #expect(got.shape == expected.shape)
                #expect(relativeL2(got.values, expected.values) < 1e-5, "request \(index) output \(name)")
            }
        }
    }

    @Test func aFullQueueRefusesAtOnceWithUnavailable() async throws {
        let (network, engine) = try fixtureEngine()
        // The batching delay holds both requests in the queue far longer than any loaded machine needs to submit
        // the third; stop() then runs them at once.
        let settings = BatchScheduler.Settings(instances: 1, maxBatchSize: 64, maxQueueDelay: .seconds(600), maxQueueSize: 2, queueTimeout: .seconds(900))
        let scheduler = BatchScheduler(engine: engine, settings: settings, metrics: nil)
        scheduler.start()
        let input = network[network.inputs[0]]
        let one = [input.name: TensorData.random([1] + input.shape.dropFirst(), seed: 9)]
        async let first = scheduler.submit(one, samples: 1)
        async let second = scheduler.submit(one, samples: 1)
        for _ in 0..<6000 where scheduler.waitingRequests < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(scheduler.waitingRequests == 2)
        await #expect(throws: ServingError.self) { _ = try await scheduler.submit(one, samples: 1) }
        await scheduler.stop()
        _ = try await (first, second)
    }
}
