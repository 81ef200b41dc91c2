// Loading an engine file on the backend it was built for: the one place that knows every concrete backend.

import Foundation

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
    /// `Engine.open(engineFile:)`, `Engine.serialize()`, docs/engine-format.md
    public convenience init(contentsOf path: String, options: ExecutionOptions = ExecutionOptions()) throws {
        let opened = try Self.open(engineFile: path)
        try self.init(opened.file, backend: opened.backend, options: options)
    }

    /// An engine file read and checked, with the backend it names opened, ready for `Engine(_:backend:options:)`.
    public struct OpenedEngineFile {
        public var file: EngineFile
        public var backend: any EngineLoadingBackend
        /// The file's phases (read, checksum, decoding), then the time this thread still waited for the backend.
        public var phases: [(phase: String, milliseconds: Double)]
        /// How long opening the backend took on its own thread, most of it beside the file's phases; nil where it
        /// opened on this thread after them (a header that named no backend before the file was checked).
        public var backendMilliseconds: Double?
    }

    /// Reads and checks the engine file at `path` and opens the backend it names at the same time: the backend opens
    /// on another thread as soon as the file's first bytes name it, so that a CUDA engine's driver and device
    /// context start-up (about 190 ms on an H100, more than everything else a load does) overlaps the checksum and
    /// decoding of the file instead of following them.
    /// - Parameter accept: a check of the decoded file (that it is for the device the user asked for), run before
    ///   waiting for the backend, so that its error, not the backend's, names the mismatch.
    /// - Throws: as `EngineFile.read(path:)`; what `accept` throws; then why the file's backend cannot be used here.
    public static func open(engineFile path: String, accept: (EngineFile) throws -> Void = { _ in }) throws -> OpenedEngineFile {
        var opening: BackgroundOpening?
        let file = try EngineFile.read(path: path) { backendName in opening = BackgroundOpening(backendName) }
        try accept(file)
        let waitStart = DispatchTime.now().uptimeNanoseconds
        let backend: any EngineLoadingBackend, backendMilliseconds: Double?
        if let opening, opening.backendName == file.backendName {
            let (result, milliseconds) = opening.wait()
            backend = try usable(result, for: file)
            backendMilliseconds = milliseconds
        } else {
            backend = try loadingBackend(for: file)
            backendMilliseconds = nil
        }
        let waited = Double(DispatchTime.now().uptimeNanoseconds - waitStart) / 1e6
        let phase = backendMilliseconds == nil ? "\(file.backendName) backend opened" : "\(file.backendName) backend opened beside the file's read and checks, waited for"
        return OpenedEngineFile(file: file, backend: backend, phases: file.phases + [(phase, waited)], backendMilliseconds: backendMilliseconds)
    }

    /// The backend an engine file names, ready to load it.
    public static func loadingBackend(for file: EngineFile) throws -> any EngineLoadingBackend {
        try usable(Result { try openBackend(named: file.backendName) }, for: file)
    }

    /// The backend named `name`, or the error of opening it, unexplained (`usable` says which file needed it).
    private static func openBackend(named name: String) throws -> any EngineLoadingBackend {
        switch name {
        case "cpu": return CPUBackend()
        // Opens the driver and creates the device's primary context, the start-up any CUDA process pays.
        case "cuda": return try CUDAEngineLoader()
        case let other: throw UnknownBackend(name: other)
        }
    }

    private struct UnknownBackend: Error { var name: String }

    private static func usable(_ opened: Result<any EngineLoadingBackend, any Error>, for file: EngineFile) throws -> any EngineLoadingBackend {
        do {
            return try opened.get()
        } catch let unknown as UnknownBackend {
            throw OctetError.malformedFile(path: file.path, reason: "is an engine for the backend '\(unknown.name)', which this octet does not have")
        } catch {
            throw OctetError.malformedFile(path: file.path, reason: "is a \(file.backendName.uppercased()) engine for \(file.target), and \(file.backendName.uppercased()) cannot be used here: \(error)")
        }
    }

    /// A backend opening on its own thread; `wait()` returns it (or why it failed) and how long it took.
    private final class BackgroundOpening: @unchecked Sendable {
        let backendName: String
        private let done = DispatchSemaphore(value: 0)
        // Written by the thread before `done` is signalled, read only after `wait()` has seen the signal.
        private var result: Result<any EngineLoadingBackend, any Error> = .failure(CancellationError())
        private var milliseconds = 0.0

        init(_ backendName: String) {
            self.backendName = backendName
            Thread.detachNewThread { [self] in
                let start = DispatchTime.now().uptimeNanoseconds
                result = Result { try Engine.openBackend(named: backendName) }
                milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                done.signal()
            }
        }

        func wait() -> (Result<any EngineLoadingBackend, any Error>, milliseconds: Double) {
            done.wait()
            return (result, milliseconds)
        }
    }
}
