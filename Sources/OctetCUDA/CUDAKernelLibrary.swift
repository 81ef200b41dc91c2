import Foundation
import OctetCore

/// Every Octet kernel compiled for one device: `common.cuh` followed by all the embedded `.cu` files, as one NVRTC
/// program. The cubin is cached on disk, keyed by a hash of the source, the compile options, the architecture and
/// NVRTC's version, so only the first engine build on a machine pays for compilation.
public final class CUDAKernelLibrary: @unchecked Sendable {
    public let driver: CUDADriver
    public let device: CUDADriver.Device
    let module: CUDADriver.Module
    /// How the cubin was obtained, for logs: "compiled in 4.2 s" or "from cache".
    public let origin: String
    /// The compiled kernels for `device.architecture`, as an engine file saves them.
    let cubin: [UInt8]
    /// Where making the library took its time: the driver opened (`cuInit`), the device's primary context created,
    /// the kernels obtained (NVRTC, the kernel cache or an engine file) and loaded as a module. A build and a load
    /// both pay the first two; `octet build` and `octet run --load-engine` print them.
    public let startupPhases: [(phase: String, milliseconds: Double)]
    /// Loaded kernels and the dynamic shared memory each is allowed so far.
    private var kernels: [String: (kernel: CUDADriver.Kernel, sharedBytes: Int)] = [:]
    private let lock = NSLock()

    /// The library for the first CUDA device, built once per process.
    public static func shared() throws -> CUDAKernelLibrary {
        try sharedLibrary.get()
    }

    private static let sharedLibrary = Result { try CUDAKernelLibrary() }

    /// Libraries made from engine files' cubins, so engines loaded with the same kernels share one module.
    nonisolated(unsafe) private static var loaded: [CUDAKernelLibrary] = []
    private static let loadedLock = NSLock()

    /// The library of an engine file's `cubin` on a device: one already loaded from the same bytes, else a new one
    /// (the module loaded from the bytes; nothing is compiled). `shared`: whether it was one already loaded.
    static func loading(deviceOrdinal: Int, cubin: [UInt8]) throws -> (library: CUDAKernelLibrary, shared: Bool) {
        loadedLock.lock()
        defer { loadedLock.unlock() }
        if let same = loaded.first(where: { Int($0.device.ordinal) == deviceOrdinal && $0.cubin == cubin }) {
            try same.driver.activate(same.device)
            return (same, true)
        }
        let library = try CUDAKernelLibrary(deviceOrdinal: deviceOrdinal, cubin: cubin)
        loaded.append(library)
        return (library, false)
    }

    /// The library for a device: from `cubin` (an engine file's, for the same architecture) when given, else from the
    /// kernel cache or NVRTC.
    init(deviceOrdinal: Int = 0, cubin saved: [UInt8]? = nil) throws {
        var mark = DispatchTime.now().uptimeNanoseconds
        var phases: [(phase: String, milliseconds: Double)] = []
        /// Ends the phase `name` now.
        func phase(_ name: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            phases.append((name, Double(now - mark) / 1e6))
            mark = now
        }
        let driver = try CUDADriver()
        self.driver = driver
        let devices = try driver.devices()
        guard deviceOrdinal < devices.count else {
            throw OctetError.unavailable(reason: "CUDA is installed but the driver reports no device")
        }
        let device = devices[deviceOrdinal]
        self.device = device
        let cc = device.computeCapability
        guard cc.major > 6 || (cc.major == 6 && cc.minor >= 1) else {
            throw OctetError.unavailable(reason: "\(device.name) (\(device.architecture)) has no INT8 dot product; Octet needs compute capability 6.1 or newer")
        }
        phase("cuda driver opened")
        try driver.activate(device)
        phase("context created")
        let cubin: [UInt8]
        if let saved {
            // An engine's kernels: no source, no cache lookup, no NVRTC.
            cubin = saved
            origin = "from the engine file"
            module = try driver.loadModule(cubin)
            self.cubin = cubin
            phase("kernel module loaded (cubin of \(cubin.count) bytes, no NVRTC)")
            startupPhases = phases
            return
        }
        let source = Self.source
        let options = CUDADriver.compileOptions
        let key = Self.fnv1a("\(source)\u{0}\(options.joined(separator: " "))\u{0}\(device.compileTarget)\u{0}\(driver.compilerVersion)")
        let cacheFile = Self.cacheDirectory.map { $0.appendingPathComponent(String(format: "octet-kernels-%016llx-%@.cubin", key, device.architecture)) }
        if let cacheFile, ProcessInfo.processInfo.environment["OCTET_CUDA_PTXAS_VERBOSE"] != "1", let data = try? Data(contentsOf: cacheFile), !data.isEmpty {
            cubin = [UInt8](data)
            origin = "from the kernel cache \(cacheFile.path)"
        } else {
            let start = Date()
            let verbose = ProcessInfo.processInfo.environment["OCTET_CUDA_PTXAS_VERBOSE"] == "1" ? ["--ptxas-options=-v"] : []
            cubin = try driver.compile(source: source, name: "octet_kernels.cu", architecture: device.compileTarget, options: verbose)
            origin = String(format: "compiled with NVRTC in %.1f s", Date().timeIntervalSince(start))
            if let cacheFile { Self.store(cubin, at: cacheFile) }
        }
        module = try driver.loadModule(cubin)
        self.cubin = cubin
        phase("kernels \(origin) and module loaded")
        startupPhases = phases
    }

    /// The kernel named `name` (an `extern "C"` function of the library), allowed `dynamicSharedMemory` bytes.
    public func kernel(_ name: String, dynamicSharedMemory: Int = 0) throws -> CUDADriver.Kernel {
        lock.lock()
        defer { lock.unlock() }
        if let entry = kernels[name], entry.sharedBytes >= dynamicSharedMemory { return entry.kernel }
        let kernel = try kernels[name]?.kernel ?? driver.function(module, name: name)
        if dynamicSharedMemory > 48 * 1024 { try driver.setDynamicSharedMemory(kernel, bytes: dynamicSharedMemory) }
        kernels[name] = (kernel, max(dynamicSharedMemory, 48 * 1024))
        return kernel
    }

    /// Tensor-core kernels exist on sm_80 and newer.
    public var hasTensorCoreKernels: Bool { device.computeCapability.major >= 8 }

    static var source: String {
        let files = KernelSources.files
        let body = files.keys.filter { $0.hasSuffix(".cu") }.sorted().map { "// ---- \($0)\n\(files[$0]!)\n" }.joined()
        return (files["common.cuh"] ?? "") + "\n" + body
    }

    /// `$OCTET_CACHE_DIR`, else `$XDG_CACHE_HOME/octet`, else `~/.cache/octet`; nil when none can be created.
    static var cacheDirectory: URL? {
        let environment = ProcessInfo.processInfo.environment
        let directory: URL
        if let explicit = environment["OCTET_CACHE_DIR"], !explicit.isEmpty {
            directory = URL(fileURLWithPath: explicit)
        } else if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            directory = URL(fileURLWithPath: xdg).appendingPathComponent("octet")
        } else {
            directory = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/octet")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        } catch {
            return nil
        }
    }

    /// Writes through a temporary file and a rename, so concurrent builds never read a partial cubin.
    private static func store(_ cubin: [UInt8], at file: URL) {
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(getpid())")
        do {
            try Data(cubin).write(to: temporary)
            _ = try FileManager.default.replaceItemAt(file, withItemAt: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
        }
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
