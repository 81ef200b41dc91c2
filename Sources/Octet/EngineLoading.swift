// Loading an engine file on the backend it was built for: the one place that knows every concrete backend.

extension Engine {
    /// Reads the engine file at `path` and loads it on the backend it was built for (the CPU, or the first CUDA
    /// device): no graph pass, no weight packing, no tactic timing.
    ///
    /// ```swift
    /// let engine = try Engine(contentsOf: "mobilenet_v2.engine")
    /// let outputs = try engine.makeContext().execute(["input": image])
    /// ```
    /// - Parameters:
    ///   - path: a file written by `Engine.write(to:)` or `octet build --save-engine`.
    ///   - options: execution options (threads) for the loaded program.
    /// - Throws: `OctetError` naming the file: not an engine file, a newer format, a checksum mismatch, content that
    ///   does not decode, an instruction set or compute capability this machine lacks, no GPU for a CUDA engine.
    ///
    /// ### See Also
    /// `EngineFile.read(path:)`, `Engine.serialize()`, docs/engine-format.md
    public convenience init(contentsOf path: String, options: ExecutionOptions = ExecutionOptions()) throws {
        let file = try EngineFile.read(path: path)
        try self.init(file, backend: try Self.loadingBackend(for: file), options: options)
    }

    /// The backend an engine file names, ready to load it.
    public static func loadingBackend(for file: EngineFile) throws -> any EngineLoadingBackend {
        switch file.backendName {
        case "cpu":
            return CPUBackend()
        case "cuda":
            do {
                return try CUDAEngineLoader()
            } catch {
                throw OctetError.malformedFile(path: file.path, reason: "is a CUDA engine for \(file.target), and CUDA cannot be used here: \(error)")
            }
        case let other:
            throw OctetError.malformedFile(path: file.path, reason: "is an engine for the backend '\(other)', which this octet does not have")
        }
    }
}
