import Foundation
import OctetCore

/// A compiled program that can write down what its backend prepared (packed weights, kernel choices, kernel
/// binaries, timed tactics), so that a later process loads it instead of preparing it again.
public protocol SerializableProgram: CompiledProgram {
    /// What the program was prepared for, as its backend checks it when loading: the CPU's instruction set
    /// (`avx512vnni`), a GPU's architecture and name (`sm_90 NVIDIA H100 80GB HBM3`).
    var target: String { get }
    /// Writes the backend's prepared state; `EngineLoadingBackend.load` reads it back.
    func serializeState(into writer: inout BinaryWriter) throws
    /// The layers (indices into the plan's layers) whose saved state holds everything the layer derived from its
    /// float weights, and that a load makes from that state alone: the engine file leaves their weights out
    /// (`EnginePlan.leavingOutWeights`). A layer run by the host reference implementation is never one of them.
    var layersWithSelfContainedState: Set<Int> { get }
    /// Where the time of the load that made this program went, phase by phase (empty for a built program).
    var loadPhases: [(phase: String, milliseconds: Double)] { get }
    /// Where the backend's part of the build that made this program went (starting a device, compiling kernels,
    /// preparing constants), with the same phase names as `loadPhases`; empty for a loaded program or a backend
    /// with nothing to say.
    var buildPhases: [(phase: String, milliseconds: Double)] { get }
}

extension SerializableProgram {
    public var loadPhases: [(phase: String, milliseconds: Double)] { [] }
    public var buildPhases: [(phase: String, milliseconds: Double)] { [] }
}

/// A backend that makes a program from a plan and the state a `SerializableProgram` of the same backend wrote:
/// no graph pass, no weight packing, no tactic timing. It refuses state prepared for a target this machine
/// lacks (another instruction set, another compute capability), with one sentence naming the file.
public protocol EngineLoadingBackend: Backend {
    /// The oldest format version whose state this backend reads: a change of the backend's state layout bumps the
    /// format version, and older files of that backend are refused with a sentence.
    var oldestStateVersion: UInt32 { get }
    func load(_ plan: EnginePlan, state: inout BinaryReader, options: ExecutionOptions) throws -> any CompiledProgram
}

extension EngineLoadingBackend {
    public var oldestStateVersion: UInt32 { 1 }
}

/// An engine file, decoded: the plan, the backend and target it was built for, and the backend's state, not yet
/// loaded (docs/engine-format.md describes the bytes). `Engine(contentsOf:)` reads and loads one in one call.
///
/// ```swift
/// try engine.write(to: "resnet50.engine")
/// let file = try EngineFile.read(path: "resnet50.engine")
/// let loaded = try Engine(file, backend: CPUBackend())
/// ```
public struct EngineFile: Sendable {
    /// The first eight bytes of every engine file.
    public static let magic = Array("OCTETENG".utf8)
    /// The format this octet writes and the newest it reads (2: CUDA engines hold every layer's device constants;
    /// 3: weights the backend state holds are left out of the plan).
    public static let formatVersion: UInt32 = 3
    /// Magic, version and body length before the body; the CRC-32 after it.
    static let headerBytes = 20, trailerBytes = 4

    /// The file, for errors.
    public var path: String
    /// The format version the file was written in.
    public var version: UInt32
    /// Where reading and decoding the file took its time (`read(path:)`: the read, the checks, the decoding).
    public var phases: [(phase: String, milliseconds: Double)] = []
    /// The octet version that wrote the file (`OctetVersion.current` then).
    public var writtenBy: String
    /// The backend the engine was built for (`cpu`, `cuda`).
    public var backendName: String
    /// What the backend prepared the engine for (`SerializableProgram.target`).
    public var target: String
    public var plan: EnginePlan
    /// The backend's section, positioned at its start.
    public var state: BinaryReader

    /// The bytes of an engine file for `plan` compiled to `program` on the backend named `backendName`.
    public static func encode(plan: EnginePlan, program: any SerializableProgram, backendName: String) throws -> [UInt8] {
        try encode(plan: plan.leavingOutWeights(ofLayers: program.layersWithSelfContainedState), program: program, backendName: backendName, version: formatVersion)
    }

    /// As `encode`, in format `version`, 2 or 3: format 2 keeps every weight of `plan` (which must have them all), so an
    /// octet of that format reads the file; the tests write one to check that this octet still reads it.
    public static func encode(plan: EnginePlan, program: any SerializableProgram, backendName: String, version: UInt32) throws -> [UInt8] {
        guard (2...formatVersion).contains(version), version >= 3 || plan.hasAllWeights else {
            throw OctetError.unavailable(reason: "an engine file of format version \(version) cannot hold this plan (this octet writes versions 2 and 3; 2 only with every weight)")
        }
        var w = BinaryWriter()
        w.planFormat = version
        for byte in magic { w.u8(byte) }
        w.u32(version)
        w.u64(0)  // body length, patched below
        w.string(OctetVersion.current)
        w.string(backendName)
        w.string(program.target)
        w.plan(plan)
        var state = BinaryWriter()
        try program.serializeState(into: &state)
        w.blob(state.bytes)
        w.patchU64(UInt64(w.bytes.count - headerBytes), at: 12)
        var bytes = w.bytes
        let crc = CRC32.checksum(bytes)
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Reads and checks the file at `path` (magic, version, length, checksum) and decodes its plan.
    /// - Throws: `OctetError` naming `path`: not an engine file, a newer format, truncated, a checksum mismatch,
    ///   or content that does not decode.
    /// - Parameter announced: called with the backend the file's first bytes name, before the checksum and the
    ///   decoding (which then may still refuse the file), so a loader can open that backend meanwhile.
    public static func read(path: String, announced: ((_ backendName: String) -> Void)? = nil) throws -> EngineFile {
        let start = DispatchTime.now().uptimeNanoseconds
        let bytes = try FileReading.contents(of: path, what: "an Octet engine file", mapped: true)
        if let announced, let backendName = announcedBackend(in: bytes) { announced(backendName) }
        var file = try decode(bytes, path: path)
        file.phases.insert(("file read (mapped)", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 - file.phases.map(\.milliseconds).reduce(0, +)), at: 0)
        return file
    }

    /// The backend name in the header of `bytes`, unchecked (nil where the bytes do not start like an engine file).
    static func announcedBackend(in bytes: Data) -> String? {
        guard bytes.count >= headerBytes + trailerBytes, bytes.prefix(magic.count).elementsEqual(magic) else { return nil }
        var body = BinaryReader(bytes, path: "", offset: headerBytes, end: bytes.count - trailerBytes)
        guard (try? body.string()) != nil else { return nil }
        return try? body.string()
    }

    /// As `read`, from bytes already in memory.
    public static func decode(_ bytes: [UInt8], path: String) throws -> EngineFile {
        try decode(Data(bytes), path: path)
    }

    /// As `read`, from bytes already in memory.
    public static func decode(_ bytes: Data, path: String) throws -> EngineFile {
        func refuse(_ reason: String) -> OctetError { .malformedFile(path: path, reason: reason) }
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            throw refuse("is not an Octet engine file (it does not start with OCTETENG; `octet build --save-engine` writes one)")
        }
        guard bytes.count >= headerBytes + trailerBytes else {
            throw refuse("truncated at byte \(bytes.count): an engine file has at least \(headerBytes + trailerBytes) bytes")
        }
        var header = BinaryReader(bytes, path: path, offset: magic.count)
        let version = try header.u32("the format version")
        guard version <= formatVersion else {
            throw refuse("is an engine of format version \(version), newer than version \(formatVersion), the newest this octet \(OctetVersion.current) reads; rebuild the engine with this octet or use a newer one")
        }
        guard version >= 1 else { throw refuse("has format version 0, which no octet writes") }
        let announced = try header.u64("the body length")
        let actual = UInt64(bytes.count - headerBytes - trailerBytes)
        guard announced == actual else {
            throw refuse(announced > actual
                ? "truncated at byte \(bytes.count): the header announces \(announced) bytes of engine, \(actual) are there"
                : "has \(actual - announced) bytes more than its header announces")
        }
        let checkStart = DispatchTime.now().uptimeNanoseconds
        var trailer = BinaryReader(bytes, path: path, offset: bytes.count - trailerBytes)
        let stored = try trailer.u32("the checksum")
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<($0.count - trailerBytes)])) }
        guard stored == computed else {
            throw refuse("checksum mismatch (the file says \(hex(stored)), its bytes give \(hex(computed))): the file is damaged")
        }
        let decodeStart = DispatchTime.now().uptimeNanoseconds
        var body = BinaryReader(bytes, path: path, offset: headerBytes, end: bytes.count - trailerBytes)
        let writtenBy = try body.string("the octet version")
        let backendName = try body.string("the backend name")
        let target = try body.string("the target")
        let plan = try body.plan(version: version)
        let state = try body.section("the backend state")
        try body.expectEnd("the backend state")
        let end = DispatchTime.now().uptimeNanoseconds
        return EngineFile(
            path: path, version: version,
            phases: [("CRC-32 of \(bytes.count) bytes", Double(decodeStart - checkStart) / 1e6), ("plan decoded", Double(end - decodeStart) / 1e6)],
            writtenBy: writtenBy, backendName: backendName, target: target, plan: plan, state: state)
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }
}

extension Engine {
    /// The engine as the bytes of an engine file: plan, target, the backend's prepared state, checksum.
    /// - Throws: `OctetError.unavailable` when the backend cannot save its programs.
    public func serialize() throws -> [UInt8] {
        guard let program = program as? any SerializableProgram else {
            throw OctetError.unavailable(reason: "the \(backendName) backend cannot save engines")
        }
        return try EngineFile.encode(plan: plan, program: program, backendName: backendName)
    }

    /// Writes `serialize()` to `path` (through a temporary file and a rename, so a reader never sees half a file).
    /// - Returns: the number of bytes written.
    @discardableResult
    public func write(to path: String) throws -> Int {
        let bytes = try serialize()
        let temporary = path + ".partial-\(getpid())"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
            return bytes.count
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw OctetError.io(path: path, reason: "cannot write the engine file: \(FileReading.reason(error, path: path))")
        }
    }

    /// Loads a decoded engine file on `backend`, which must be the backend it was built for.
    /// - Throws: `OctetError` naming the file: another backend, a target this machine lacks, state that does
    ///   not fit the plan.
    public convenience init(_ file: EngineFile, backend: any EngineLoadingBackend, options: ExecutionOptions = ExecutionOptions()) throws {
        guard file.backendName == backend.name else {
            throw OctetError.malformedFile(path: file.path, reason: "is a \(file.backendName) engine and cannot run on the \(backend.name) backend")
        }
        guard file.version >= backend.oldestStateVersion else {
            throw OctetError.malformedFile(
                path: file.path,
                reason: "is a \(file.backendName) engine of format version \(file.version), whose \(file.backendName) state this octet no longer reads (it reads version \(backend.oldestStateVersion) and newer); rebuild the engine with octet build --save-engine")
        }
        // A layer whose weights the file left out must be one the backend makes from its saved state alone: a
        // backend that reaches for them while loading, or does not count the layer as held, refuses the file.
        let leftOut = file.plan.layersWithLeftOutWeights
        func refusal(_ index: Int) -> OctetError {
            .malformedFile(
                path: file.path,
                reason: "leaves out the float weights of layer '\(file.plan.network.layers[index].name)', and the \(backend.name) state does not hold what they give; rebuild the engine")
        }
        var state = file.state
        let program: any CompiledProgram
        do {
            program = try backend.load(file.plan, state: &state, options: options)
        } catch let error as OctetError {
            if let index = leftOut.first(where: { error == .weightsLeftOut(layer: file.plan.network.layers[$0].name) }) { throw refusal(index) }
            throw error
        }
        try state.expectEnd("the \(backend.name) state")
        let held = (program as? any SerializableProgram)?.layersWithSelfContainedState ?? []
        if let index = leftOut.first(where: { !held.contains($0) }) { throw refusal(index) }
        self.init(plan: file.plan, program: program, backendName: backend.name)
    }

    /// Where loading this engine from a file took its time, phase by phase (empty for a built engine).
    public var loadPhases: [(phase: String, milliseconds: Double)] { (program as? any SerializableProgram)?.loadPhases ?? [] }

    /// Where the backend's part of building this engine took its time (`SerializableProgram.buildPhases`).
    public var buildPhases: [(phase: String, milliseconds: Double)] { (program as? any SerializableProgram)?.buildPhases ?? [] }
}
