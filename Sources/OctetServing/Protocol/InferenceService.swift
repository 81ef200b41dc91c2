import Foundation
import Octet

/// The Open Inference Protocol's operations, independent of the transport: the HTTP/REST and gRPC front ends
/// decode a request, call one of these, and encode the answer. Every refusal is a ``ServingError``.
final class InferenceService: Sendable {
    static let serverName = "octet"
    /// The protocol extensions answered (server metadata lists them).
    static let extensions = ["classification", "binary_tensor_data"]

    let models: [String: ServedModel]
    let metrics: ServingMetrics?

    init(models: [String: ServedModel], metrics: ServingMetrics?) {
        self.models = models
        self.metrics = metrics
    }

    /// The model `name` at `version` (empty or nil: the served version).
    func model(_ name: String, version: String?) throws(ServingError) -> ServedModel {
        guard let model = models[name] else {
            throw ServingError(.notFound, "no model named '\(name)' is served (the repository holds \(models.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")))")
        }
        if let version, !version.isEmpty, version != model.version {
            throw ServingError(.notFound, "model '\(name)' has no version '\(version)' (it serves version \(model.version))")
        }
        return model
    }

    /// Runs one inference request on `model`, counting it in the model's metrics.
    func infer(_ request: InferenceRequest, model: ServedModel) async throws(ServingError) -> InferenceResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let modelMetrics = metrics?.model(model.name)
        do {
            let response = try await run(request, model: model)
            modelMetrics?.succeeded(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            return response
        } catch {
            modelMetrics?.failed(status: error.httpStatus)
            throw error
        }
    }

    /// A refusal that happened before a request could be decoded (malformed body, too large), counted for `model`.
    func countRefusal(_ error: ServingError, model: String) {
        if models[model] != nil { metrics?.model(model).failed(status: error.httpStatus) }
    }

    private func run(_ request: InferenceRequest, model: ServedModel) async throws(ServingError) -> InferenceResponse {
        let (inputs, samples) = try engineInputs(request.inputs, model: model)
        let requested = try requestedOutputs(request, model: model)
        let completion = try await model.scheduler.submit(inputs, samples: samples)
        var outputs: [InferenceOutput] = []
        for output in requested {
            guard let tensor = completion.outputs[output.name] else {
                throw ServingError(.internal, "the engine produced no output '\(output.name)'")
            }
            let binary = output.binary ?? request.binaryOutputs
            if let k = output.classification {
                outputs.append(InferenceOutput(
                    name: output.name, datatype: .bytes, shape: [samples, k],
                    contents: .bytes(classify(tensor, k: k, model: model, output: output.name)), binary: binary))
            } else {
                outputs.append(InferenceOutput(name: output.name, datatype: .fp32, shape: tensor.shape, contents: .floats(tensor.values), binary: binary))
            }
        }
        return InferenceResponse(modelName: model.name, modelVersion: model.version, id: request.id, outputs: outputs)
    }

    /// The engine's input tensors for a request's inputs, and the request's batch size.
    private func engineInputs(_ inputs: [InferenceInput], model: ServedModel) throws(ServingError) -> ([String: TensorData], Int) {
        var tensors: [String: TensorData] = [:]
        var samples: Int?
        for input in inputs {
            guard let expected = model.inputs.first(where: { $0.name == input.name }) else {
                throw ServingError(.invalidRequest, "model '\(model.name)' has no input '\(input.name)' (its inputs: \(model.inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            guard tensors[input.name] == nil else { throw ServingError(.invalidRequest, "input '\(input.name)' is given twice") }
            let tensor: TensorData
            switch (input.datatype, input.contents) {
            case let (.fp32, .floats(values)):
                let perSample = Array(expected.shape.dropFirst())
                guard input.shape.count == expected.shape.count, input.shape.first.map({ $0 >= 1 }) == true, Array(input.shape.dropFirst()) == perSample else {
                    throw ServingError(.invalidRequest, "input '\(input.name)' has shape \(input.shape), but model '\(model.name)' takes \(expected.shape.map { $0 < 0 ? "n" : "\($0)" }) (n from 1 to \(model.maxBatchSize))")
                }
                tensor = TensorData(shape: input.shape, values: values)
            case let (.bytes, .bytes(files)):
                guard let recipe = model.recipe else {
                    throw ServingError(.invalidRequest, "input '\(input.name)' is BYTES, but model '\(model.name)' does not take images ([N, 3, H, W]); send FP32")
                }
                guard input.shape.count == 1 || (input.shape.count == 2 && input.shape[1] == 1), !files.isEmpty else {
                    throw ServingError(.invalidRequest, "BYTES input '\(input.name)' has shape \(input.shape); it takes [n] or [n, 1] image files")
                }
                guard files.count <= model.maxBatchSize else { throw batchTooLarge(files.count, model: model) }
                var images: [TensorData] = []
                for (index, file) in files.enumerated() {
                    do {
                        let name = "input '\(input.name)' element \(index)"
                        images.append(try recipe.inputTensor(try ImageFile.decode(file, path: name), path: name))
                    } catch {
                        throw ServingError(.invalidRequest, "\(error)")
                    }
                }
                tensor = TensorData.batch(images)
            default:
                throw ServingError(.invalidRequest, "input '\(input.name)' has datatype \(input.datatype.rawValue); model '\(model.name)' takes FP32\(model.recipe != nil ? " tensors or BYTES image files (JPEG, PNG, PPM)" : "")")
            }
            let n = tensor.shape[0]
            guard n <= model.maxBatchSize else { throw batchTooLarge(n, model: model) }
            if let samples, samples != n {
                throw ServingError(.invalidRequest, "the inputs have different batch sizes (\(samples) and \(n))")
            }
            samples = n
            tensors[input.name] = tensor
        }
        if let missing = model.inputs.first(where: { tensors[$0.name] == nil }) {
            throw ServingError(.invalidRequest, "the request lacks input '\(missing.name)' of model '\(model.name)'")
        }
        return (tensors, samples ?? 0)
    }

    private func batchTooLarge(_ n: Int, model: ServedModel) -> ServingError {
        ServingError(.invalidRequest, "a batch of \(n) exceeds model '\(model.name)''s max_batch_size \(model.maxBatchSize)")
    }

    private func requestedOutputs(_ request: InferenceRequest, model: ServedModel) throws(ServingError) -> [RequestedOutput] {
        guard let requested = request.outputs, !requested.isEmpty else {
            return model.outputs.map { RequestedOutput(name: $0.name) }
        }
        for output in requested {
            guard let metadata = model.outputs.first(where: { $0.name == output.name }) else {
                throw ServingError(.invalidRequest, "model '\(model.name)' has no output '\(output.name)' (its outputs: \(model.outputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            if let k = output.classification {
                let classes = metadata.shape.dropFirst().reduce(1, *)
                guard (1...classes).contains(k) else {
                    throw ServingError(.invalidRequest, "classification \(k) for output '\(output.name)' must be from 1 to its \(classes) classes")
                }
            }
        }
        return requested
    }

    /// The classification extension: each sample's top `k` as "score:index:label" (label where the model has
    /// labels). The score is the class probability exactly as `octet run` reports it: the output itself where the
    /// network ends in Softmax, else the softmax of the logits.
    private func classify(_ output: TensorData, k: Int, model: ServedModel, output name: String) -> [Data] {
        let ranked = ClassifierOutput(output, k: k, probabilities: model.probabilityOutputs.contains(name))
        return ranked.top.flatMap { top in
            top.map { entry in
                Data(("\(entry.probability):\(entry.index)" + (model.labels.map { ":\($0[entry.index])" } ?? "")).utf8)
            }
        }
    }
}
