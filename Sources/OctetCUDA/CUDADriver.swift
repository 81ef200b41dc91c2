import Foundation
import OctetCore
#if canImport(Glibc)
import Glibc
#endif

typealias CuDeviceGetCount = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
typealias CuLaunchKernel = @convention(c) (
    OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32
/// cuLaunchKernelEx(config, function, kernelParams, extra); `config` is a CUlaunchConfig (`launchConfig`).
typealias CuLaunchKernelEx = @convention(c) (
    UnsafeRawPointer, OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32
typealias NVRTCCreateProgram = @convention(c) (
    UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
    UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
) -> Int32

/// The CUDA driver API (`libcuda.so.1`) and NVRTC (`libnvrtc.so*`), opened with `dlopen` so that Octet builds and
/// runs with no CUDA installed. Every call is checked; failures become `OctetError`s with the driver's message.
public final class CUDADriver: @unchecked Sendable {
    typealias CUresult = Int32
    typealias Handle = OpaquePointer

    // Driver entry points.
    private let cuInit: @convention(c) (UInt32) -> CUresult
    private let cuDeviceGetCount: CuDeviceGetCount
    private let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
    private let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
    private let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
    private let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> CUresult
    private let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle?>, Int32) -> CUresult
    private let cuCtxSetCurrent: @convention(c) (Handle?) -> CUresult
    private let cuCtxSynchronize: @convention(c) () -> CUresult
    private let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle?>, UnsafeRawPointer) -> CUresult
    private let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle?>, Handle?, UnsafePointer<CChar>) -> CUresult
    private let cuLaunchKernel: CuLaunchKernel
    /// Absent from drivers older than CUDA 12.0; launches then go without programmatic dependence.
    private let cuLaunchKernelEx: CuLaunchKernelEx?
    private let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult
    private let cuMemFree: @convention(c) (UInt64) -> CUresult
    private let cuMemcpyHtoD: @convention(c) (UInt64, UnsafeRawPointer, Int) -> CUresult
    private let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> CUresult
    private let cuGetErrorString: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
    private let cuMemsetD8: @convention(c) (UInt64, UInt8, Int) -> CUresult
    private let cuFuncSetAttribute: @convention(c) (Handle?, Int32, Int32) -> CUresult
    private let cuStreamCreate: @convention(c) (UnsafeMutablePointer<Handle?>, UInt32) -> CUresult
    private let cuStreamDestroy: @convention(c) (Handle?) -> CUresult
    private let cuStreamSynchronize: @convention(c) (Handle?) -> CUresult
    private let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer, Int, Handle?) -> CUresult
    private let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer, UInt64, Int, Handle?) -> CUresult
    private let cuMemcpyDtoDAsync: @convention(c) (UInt64, UInt64, Int, Handle?) -> CUresult
    private let cuMemAllocHost: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> CUresult
    private let cuMemFreeHost: @convention(c) (UnsafeMutableRawPointer?) -> CUresult
    private let cuStreamBeginCapture: @convention(c) (Handle?, Int32) -> CUresult
    private let cuStreamEndCapture: @convention(c) (Handle?, UnsafeMutablePointer<Handle?>) -> CUresult
    private let cuGraphInstantiate: @convention(c) (UnsafeMutablePointer<Handle?>, Handle?, UInt64) -> CUresult
    private let cuGraphLaunch: @convention(c) (Handle?, Handle?) -> CUresult
    private let cuGraphExecDestroy: @convention(c) (Handle?) -> CUresult
    private let cuGraphDestroy: @convention(c) (Handle?) -> CUresult
    private let cuEventCreate: @convention(c) (UnsafeMutablePointer<Handle?>, UInt32) -> CUresult
    private let cuEventRecord: @convention(c) (Handle?, Handle?) -> CUresult
    private let cuEventSynchronize: @convention(c) (Handle?) -> CUresult
    private let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, Handle?, Handle?) -> CUresult
    private let cuEventDestroy: @convention(c) (Handle?) -> CUresult

    /// NVRTC's entry points: needed to compile the kernels, not to run an engine file's cubin, so a machine with
    /// the NVIDIA driver and no CUDA toolkit loads engines (as TensorRT plans need no compiler).
    private struct NVRTC {
        let path: String
        let version: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
        let createProgram: NVRTCCreateProgram
        let compileProgram: @convention(c) (Handle?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
        let getProgramLogSize: @convention(c) (Handle?, UnsafeMutablePointer<Int>) -> Int32
        let getProgramLog: @convention(c) (Handle?, UnsafeMutablePointer<CChar>) -> Int32
        let getCUBINSize: @convention(c) (Handle?, UnsafeMutablePointer<Int>) -> Int32
        let getCUBIN: @convention(c) (Handle?, UnsafeMutablePointer<CChar>) -> Int32
        let destroyProgram: @convention(c) (UnsafeMutablePointer<Handle?>) -> Int32
        let getErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?
    }

    /// NVRTC, or why it cannot be used (thrown by `compile`).
    private let nvrtc: Result<NVRTC, OctetError>

    /// Where NVRTC was found (for the device report).
    public var nvrtcPath: String {
        switch nvrtc {
        case let .success(n): n.path
        case let .failure(error): "not available (\(error))"
        }
    }

    /// Whether an NVIDIA driver library is installed at all: without one, falling back to the CPU is the
    /// expected case; with one, a failure to start CUDA is worth a warning.
    public static var driverLibraryInstalled: Bool {
        guard let handle = dlopen("libcuda.so.1", RTLD_LAZY) ?? dlopen("libcuda.so", RTLD_LAZY) else { return false }
        dlclose(handle)
        return true
    }

    /// Opens the libraries, or says why CUDA is unavailable on this machine.
    public init() throws {
        guard let cuda = dlopen("libcuda.so.1", RTLD_NOW) ?? dlopen("libcuda.so", RTLD_NOW) else {
            throw OctetError.unavailable(reason: "CUDA is not available on this machine: libcuda.so.1 cannot be opened (no NVIDIA driver)")
        }
        func symbol<T>(_ library: UnsafeMutableRawPointer, _ name: String, _: T.Type) throws -> T {
            guard let pointer = dlsym(library, name) else {
                throw OctetError.unavailable(reason: "the CUDA library lacks \(name); the driver is too old")
            }
            return unsafeBitCast(pointer, to: T.self)
        }
        cuInit = try symbol(cuda, "cuInit", (@convention(c) (UInt32) -> CUresult).self)
        cuDeviceGetCount = try symbol(cuda, "cuDeviceGetCount", CuDeviceGetCount.self)
        cuDeviceGet = try symbol(cuda, "cuDeviceGet", (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult).self)
        cuDeviceGetName = try symbol(cuda, "cuDeviceGetName", (@convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult).self)
        cuDeviceGetAttribute = try symbol(cuda, "cuDeviceGetAttribute", (@convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult).self)
        cuDeviceTotalMem = try symbol(cuda, "cuDeviceTotalMem_v2", (@convention(c) (UnsafeMutablePointer<Int>, Int32) -> CUresult).self)
        cuDevicePrimaryCtxRetain = try symbol(cuda, "cuDevicePrimaryCtxRetain", (@convention(c) (UnsafeMutablePointer<Handle?>, Int32) -> CUresult).self)
        cuCtxSetCurrent = try symbol(cuda, "cuCtxSetCurrent", (@convention(c) (Handle?) -> CUresult).self)
        cuCtxSynchronize = try symbol(cuda, "cuCtxSynchronize", (@convention(c) () -> CUresult).self)
        cuModuleLoadData = try symbol(cuda, "cuModuleLoadData", (@convention(c) (UnsafeMutablePointer<Handle?>, UnsafeRawPointer) -> CUresult).self)
        cuModuleGetFunction = try symbol(cuda, "cuModuleGetFunction", (@convention(c) (UnsafeMutablePointer<Handle?>, Handle?, UnsafePointer<CChar>) -> CUresult).self)
        cuLaunchKernel = try symbol(cuda, "cuLaunchKernel", CuLaunchKernel.self)
        cuLaunchKernelEx = dlsym(cuda, "cuLaunchKernelEx").map { unsafeBitCast($0, to: CuLaunchKernelEx.self) }
        cuMemAlloc = try symbol(cuda, "cuMemAlloc_v2", (@convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult).self)
        cuMemFree = try symbol(cuda, "cuMemFree_v2", (@convention(c) (UInt64) -> CUresult).self)
        cuMemcpyHtoD = try symbol(cuda, "cuMemcpyHtoD_v2", (@convention(c) (UInt64, UnsafeRawPointer, Int) -> CUresult).self)
        cuMemcpyDtoH = try symbol(cuda, "cuMemcpyDtoH_v2", (@convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> CUresult).self)
        cuGetErrorString = try symbol(cuda, "cuGetErrorString", (@convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult).self)
        cuMemsetD8 = try symbol(cuda, "cuMemsetD8_v2", (@convention(c) (UInt64, UInt8, Int) -> CUresult).self)
        cuFuncSetAttribute = try symbol(cuda, "cuFuncSetAttribute", (@convention(c) (Handle?, Int32, Int32) -> CUresult).self)
        cuStreamCreate = try symbol(cuda, "cuStreamCreate", (@convention(c) (UnsafeMutablePointer<Handle?>, UInt32) -> CUresult).self)
        cuStreamDestroy = try symbol(cuda, "cuStreamDestroy_v2", (@convention(c) (Handle?) -> CUresult).self)
        cuStreamSynchronize = try symbol(cuda, "cuStreamSynchronize", (@convention(c) (Handle?) -> CUresult).self)
        cuMemcpyHtoDAsync = try symbol(cuda, "cuMemcpyHtoDAsync_v2", (@convention(c) (UInt64, UnsafeRawPointer, Int, Handle?) -> CUresult).self)
        cuMemcpyDtoHAsync = try symbol(cuda, "cuMemcpyDtoHAsync_v2", (@convention(c) (UnsafeMutableRawPointer, UInt64, Int, Handle?) -> CUresult).self)
        cuMemcpyDtoDAsync = try symbol(cuda, "cuMemcpyDtoDAsync_v2", (@convention(c) (UInt64, UInt64, Int, Handle?) -> CUresult).self)
        cuMemAllocHost = try symbol(cuda, "cuMemAllocHost_v2", (@convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> CUresult).self)
        cuMemFreeHost = try symbol(cuda, "cuMemFreeHost", (@convention(c) (UnsafeMutableRawPointer?) -> CUresult).self)
        cuStreamBeginCapture = try symbol(cuda, "cuStreamBeginCapture_v2", (@convention(c) (Handle?, Int32) -> CUresult).self)
        cuStreamEndCapture = try symbol(cuda, "cuStreamEndCapture", (@convention(c) (Handle?, UnsafeMutablePointer<Handle?>) -> CUresult).self)
        cuGraphInstantiate = try symbol(cuda, "cuGraphInstantiateWithFlags", (@convention(c) (UnsafeMutablePointer<Handle?>, Handle?, UInt64) -> CUresult).self)
        cuGraphLaunch = try symbol(cuda, "cuGraphLaunch", (@convention(c) (Handle?, Handle?) -> CUresult).self)
        cuGraphExecDestroy = try symbol(cuda, "cuGraphExecDestroy", (@convention(c) (Handle?) -> CUresult).self)
        cuGraphDestroy = try symbol(cuda, "cuGraphDestroy", (@convention(c) (Handle?) -> CUresult).self)
        cuEventCreate = try symbol(cuda, "cuEventCreate", (@convention(c) (UnsafeMutablePointer<Handle?>, UInt32) -> CUresult).self)
        cuEventRecord = try symbol(cuda, "cuEventRecord", (@convention(c) (Handle?, Handle?) -> CUresult).self)
        cuEventSynchronize = try symbol(cuda, "cuEventSynchronize", (@convention(c) (Handle?) -> CUresult).self)
        cuEventElapsedTime = try symbol(cuda, "cuEventElapsedTime", (@convention(c) (UnsafeMutablePointer<Float>, Handle?, Handle?) -> CUresult).self)
        cuEventDestroy = try symbol(cuda, "cuEventDestroy_v2", (@convention(c) (Handle?) -> CUresult).self)
        do {
            let (library, path) = try Self.openNVRTC()
            nvrtc = .success(NVRTC(
                path: path,
                version: try symbol(library, "nvrtcVersion", (@convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32).self),
                createProgram: try symbol(library, "nvrtcCreateProgram", NVRTCCreateProgram.self),
                compileProgram: try symbol(library, "nvrtcCompileProgram", (@convention(c) (Handle?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32).self),
                getProgramLogSize: try symbol(library, "nvrtcGetProgramLogSize", (@convention(c) (Handle?, UnsafeMutablePointer<Int>) -> Int32).self),
                getProgramLog: try symbol(library, "nvrtcGetProgramLog", (@convention(c) (Handle?, UnsafeMutablePointer<CChar>) -> Int32).self),
                getCUBINSize: try symbol(library, "nvrtcGetCUBINSize", (@convention(c) (Handle?, UnsafeMutablePointer<Int>) -> Int32).self),
                getCUBIN: try symbol(library, "nvrtcGetCUBIN", (@convention(c) (Handle?, UnsafeMutablePointer<CChar>) -> Int32).self),
                destroyProgram: try symbol(library, "nvrtcDestroyProgram", (@convention(c) (UnsafeMutablePointer<Handle?>) -> Int32).self),
                getErrorString: try symbol(library, "nvrtcGetErrorString", (@convention(c) (Int32) -> UnsafePointer<CChar>?).self)))
        } catch let error as OctetError {
            nvrtc = .failure(error)
        } catch {
            nvrtc = .failure(.unavailable(reason: "\(error)"))
        }
        try check(cuInit(0), "cuInit")
    }

    /// NVRTC in CUDA_HOME, LD_LIBRARY_PATH and the usual CUDA locations, newest soname first.
    private static func openNVRTC() throws -> (UnsafeMutableRawPointer, String) {
        let environment = ProcessInfo.processInfo.environment
        var directories: [String] = []
        if let home = environment["CUDA_HOME"] ?? environment["CUDA_PATH"] { directories += [home + "/lib64", home + "/lib"] }
        directories += (environment["LD_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
        directories += ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu", ""]
        let names = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"]
        var tried: [String] = []
        for directory in directories {
            for name in names {
                let path = directory.isEmpty ? name : directory + "/" + name
                tried.append(path)
                if let handle = dlopen(path, RTLD_NOW) { return (handle, path) }
            }
        }
        throw OctetError.unavailable(reason: "CUDA is present but NVRTC is not: libnvrtc.so was not found (set CUDA_HOME or LD_LIBRARY_PATH)")
    }

    /// A NUL-terminated C buffer as a string.
    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func check(_ result: CUresult, _ call: String, file: String = #fileID, line: Int = #line) throws {
        guard result != 0 else { return }
        var message: UnsafePointer<CChar>?
        _ = cuGetErrorString(result, &message)
        let text = message.map { String(cString: $0) } ?? "unknown error"
        throw OctetError.unavailable(reason: "CUDA call \(call) failed with \(result) (\(text)) at \(file):\(line)")
    }

    // MARK: Devices

    public struct Device: Sendable, CustomStringConvertible {
        public var ordinal: Int32
        public var name: String
        public var computeCapability: (major: Int32, minor: Int32)
        public var multiprocessors: Int32
        public var memoryBytes: Int
        public var sharedMemoryPerBlock: Int32
        /// The most dynamic shared memory a kernel may opt into (more than `sharedMemoryPerBlock` on sm_70+).
        public var sharedMemoryPerBlockOptIn: Int32

        public var architecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }
        /// Compute capability 9.0 (Hopper), whose warpgroup MMA (wgmma) is an architecture-specific feature.
        public var hasWarpgroupMMA: Bool { computeCapability.major == 9 && computeCapability.minor == 0 }
        /// What NVRTC compiles the kernels for: sm_90a on 9.0, so that the wgmma tiles exist (such a cubin runs
        /// only on 9.0 devices, as every Octet cubin runs only on its own architecture), else `architecture`.
        public var compileTarget: String { hasWarpgroupMMA ? "sm_90a" : architecture }

        public var description: String {
            "\(name), \(architecture), \(multiprocessors) SMs, \(memoryBytes / (1 << 20)) MiB, \(sharedMemoryPerBlock / 1024) KiB shared memory per block"
        }
    }

    public func devices() throws -> [Device] {
        var count: Int32 = 0
        try check(cuDeviceGetCount(&count), "cuDeviceGetCount")
        return try (0..<count).map { ordinal in
            var device: Int32 = 0
            try check(cuDeviceGet(&device, ordinal), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(cuDeviceGetName(&name, 255, device), "cuDeviceGetName")
            func attribute(_ key: Int32) throws -> Int32 {
                var value: Int32 = 0
                try check(cuDeviceGetAttribute(&value, key, device), "cuDeviceGetAttribute(\(key))")
                return value
            }
            var memory = 0
            try check(cuDeviceTotalMem(&memory, device), "cuDeviceTotalMem")
            return Device(
                ordinal: device, name: Self.string(name), computeCapability: (try attribute(75), try attribute(76)),
                multiprocessors: try attribute(16), memoryBytes: memory, sharedMemoryPerBlock: try attribute(8),
                sharedMemoryPerBlockOptIn: max(try attribute(97), try attribute(8)))
        }
    }

    /// Makes the device's primary context current on this thread.
    public func activate(_ device: Device) throws {
        var context: Handle?
        try check(cuDevicePrimaryCtxRetain(&context, device.ordinal), "cuDevicePrimaryCtxRetain")
        try check(cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    // MARK: Compilation

    /// NVRTC options of every Octet kernel: no contraction into fused multiply-adds, so float epilogues round
    /// exactly as OctetQuantization's arithmetic does.
    public static let compileOptions = ["--fmad=false", "-default-device", "-std=c++17"]

    /// Compiles CUDA C to a cubin for `architecture` with NVRTC; compile errors carry NVRTC's log.
    public func compile(source: String, name: String, architecture: String, options extra: [String] = []) throws -> [UInt8] {
        let nvrtc = try self.nvrtc.get()
        var program: Handle?
        let created = nvrtc.createProgram(&program, source, name, 0, nil, nil)
        guard created == 0 else { throw nvrtcError(created, "nvrtcCreateProgram") }
        defer { _ = nvrtc.destroyProgram(&program) }
        let options = ["--gpu-architecture=\(architecture)"] + Self.compileOptions + extra
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { Glibc.free($0) } }
        let result = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { nvrtc.compileProgram(program, Int32(options.count), $0.baseAddress) }
        func log() -> String {
            var size = 0
            _ = nvrtc.getProgramLogSize(program, &size)
            var log = [CChar](repeating: 0, count: max(size, 1))
            _ = nvrtc.getProgramLog(program, &log)
            return Self.string(log).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if result != 0 {
            throw OctetError.unavailable(reason: "NVRTC could not compile \(name) for \(architecture): \(log())")
        }
        // OCTET_CUDA_PTXAS_VERBOSE=1 passes --ptxas-options=-v: registers, shared memory and spills per kernel.
        if extra.contains("--ptxas-options=-v") { FileHandle.standardError.write(Data((log() + "\n").utf8)) }
        var size = 0
        let sized = nvrtc.getCUBINSize(program, &size)
        guard sized == 0 else { throw nvrtcError(sized, "nvrtcGetCUBINSize") }
        var cubin = [CChar](repeating: 0, count: size)
        let got = nvrtc.getCUBIN(program, &cubin)
        guard got == 0 else { throw nvrtcError(got, "nvrtcGetCUBIN") }
        return cubin.map { UInt8(bitPattern: $0) }
    }

    private func nvrtcError(_ result: Int32, _ call: String) -> OctetError {
        .unavailable(reason: "NVRTC call \(call) failed: \((try? nvrtc.get().getErrorString(result)).map { String(cString: $0) } ?? "error \(result)")")
    }

    /// NVRTC's version, part of the compiled-kernel cache key.
    public var compilerVersion: String {
        guard case let .success(nvrtc) = nvrtc else { return "none" }
        var major: Int32 = 0, minor: Int32 = 0
        _ = nvrtc.version(&major, &minor)
        return "\(major).\(minor)"
    }

    /// A loaded cubin; kept for the life of the process (kernels of compiled engines point into it).
    public struct Module: @unchecked Sendable {
        let handle: OpaquePointer?
    }

    public func loadModule(_ cubin: [UInt8]) throws -> Module {
        var module: Handle?
        try cubin.withUnsafeBytes { try check(cuModuleLoadData(&module, $0.baseAddress!), "cuModuleLoadData") }
        return Module(handle: module)
    }

    public func function(_ module: Module, name: String) throws -> Kernel {
        var function: Handle?
        try check(cuModuleGetFunction(&function, module.handle, name), "cuModuleGetFunction(\(name))")
        return Kernel(handle: function)
    }

    /// Allows `kernel` to use `bytes` of dynamic shared memory (above 48 KiB needs this opt-in).
    public func setDynamicSharedMemory(_ kernel: Kernel, bytes: Int) throws {
        // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        try check(cuFuncSetAttribute(kernel.handle, 8, Int32(bytes)), "cuFuncSetAttribute(max dynamic shared memory \(bytes))")
    }

    public struct Kernel: @unchecked Sendable {
        let handle: OpaquePointer?
    }

    // MARK: Memory and launches

    /// A device allocation, freed with `release`.
    public struct Buffer: Sendable {
        public let address: UInt64
        public let bytes: Int
    }

    public func allocate(bytes: Int) throws -> Buffer {
        var address: UInt64 = 0
        try check(cuMemAlloc(&address, max(bytes, 1)), "cuMemAlloc(\(bytes))")
        return Buffer(address: address, bytes: bytes)
    }

    public func release(_ buffer: Buffer) { _ = cuMemFree(buffer.address) }

    /// Sets every byte of the buffer to zero (waits for it).
    public func zero(_ buffer: Buffer) throws { try check(cuMemsetD8(buffer.address, 0, buffer.bytes), "cuMemsetD8") }

    public func upload<T>(_ values: [T], to buffer: Buffer) throws {
        try values.withUnsafeBytes { try check(cuMemcpyHtoD(buffer.address, $0.baseAddress!, min($0.count, buffer.bytes)), "cuMemcpyHtoD") }
    }

    public func upload(bytes: UnsafeRawBufferPointer, to buffer: Buffer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        try check(cuMemcpyHtoD(buffer.address, base, min(bytes.count, buffer.bytes)), "cuMemcpyHtoD")
    }

    public func download<T>(_ buffer: Buffer, count: Int, as _: T.Type, initial: T) throws -> [T] {
        var values = [T](repeating: initial, count: count)
        try values.withUnsafeMutableBytes { try check(cuMemcpyDtoH($0.baseAddress!, buffer.address, $0.count), "cuMemcpyDtoH") }
        return values
    }

    /// Whether launches can overlap the previous kernel on the stream (programmatic dependent launch: Hopper and
    /// newer, CUDA 12 drivers).
    public func supportsOverlappedLaunch(_ device: Device) -> Bool {
        cuLaunchKernelEx != nil && device.computeCapability.major >= 9
    }

    /// Launches `kernel` on `stream` without waiting. The parameters are one packed buffer laid out as the
    /// kernel's parameter list (`KernelArguments`), which also lets a kernel take a struct by value.
    /// `overlapsPrevious`: the kernel's blocks may start once every block of the previous kernel has started or
    /// signalled (`griddepcontrol.launch_dependents`); the kernel must execute `griddepcontrol.wait` before it
    /// touches memory the previous kernels write or read. Where unsupported, an ordinary launch.
    public func launch(
        _ kernel: Kernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32), sharedBytes: Int = 0,
        arguments: KernelArguments, stream: Stream, overlapsPrevious: Bool = false
    ) throws {
        var bytes = arguments.bytes
        var size = bytes.count
        try bytes.withUnsafeMutableBytes { buffer in
            try withUnsafeMutablePointer(to: &size) { sizePointer in
                // CU_LAUNCH_PARAM_BUFFER_POINTER (1), CU_LAUNCH_PARAM_BUFFER_SIZE (2), CU_LAUNCH_PARAM_END (0).
                var extra: [UnsafeMutableRawPointer?] = [
                    UnsafeMutableRawPointer(bitPattern: 1), buffer.baseAddress,
                    UnsafeMutableRawPointer(bitPattern: 2), UnsafeMutableRawPointer(sizePointer),
                    nil,
                ]
                try extra.withUnsafeMutableBufferPointer { list in
                    if overlapsPrevious, let cuLaunchKernelEx {
                        // CUlaunchAttribute {id: CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (6), 4 bytes of
                        // padding, value: 64-byte union whose first int is 1}; CUlaunchConfig {grid x, y, z, block x,
                        // y, z, shared bytes (7 x UInt32), padding, hStream, attrs, numAttrs}.
                        var attribute = [UInt8](repeating: 0, count: 72)
                        attribute.withUnsafeMutableBytes {
                            $0.storeBytes(of: UInt32(6), toByteOffset: 0, as: UInt32.self)
                            $0.storeBytes(of: Int32(1), toByteOffset: 8, as: Int32.self)
                        }
                        try attribute.withUnsafeMutableBytes { attributeBytes in
                            var config = [UInt8](repeating: 0, count: 56)
                            config.withUnsafeMutableBytes {
                                for (i, v) in [grid.0, grid.1, grid.2, block.0, block.1, block.2, UInt32(sharedBytes)].enumerated() {
                                    $0.storeBytes(of: v, toByteOffset: 4 * i, as: UInt32.self)
                                }
                                $0.storeBytes(of: UInt(bitPattern: stream.handle.map(UnsafeRawPointer.init)), toByteOffset: 32, as: UInt.self)
                                $0.storeBytes(of: UInt(bitPattern: attributeBytes.baseAddress), toByteOffset: 40, as: UInt.self)
                                $0.storeBytes(of: UInt32(1), toByteOffset: 48, as: UInt32.self)
                            }
                            try config.withUnsafeBytes { configBytes in
                                try check(cuLaunchKernelEx(configBytes.baseAddress!, kernel.handle, nil, list.baseAddress), "cuLaunchKernelEx")
                            }
                        }
                    } else {
                        try check(
                            cuLaunchKernel(kernel.handle, grid.0, grid.1, grid.2, block.0, block.1, block.2, UInt32(sharedBytes), stream.handle, nil, list.baseAddress),
                            "cuLaunchKernel")
                    }
                }
            }
        }
    }

    /// Launches `kernel` on the default stream and waits for it; `arguments` are the kernel's parameters in order
    /// (Int32, Int64, Float, UInt64 device addresses). For the selftest's one-off checks.
    public func launch(_ kernel: Kernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32), arguments: [any BitwiseCopyable]) throws {
        try launch(kernel, grid: grid, block: block, arguments: KernelArguments(arguments), stream: Stream(handle: nil))
        try check(cuCtxSynchronize(), "cuCtxSynchronize")
    }

    // MARK: Streams, pinned memory, asynchronous copies, graphs, events

    /// A CUDA stream: work on it runs in order; one per execution context.
    public struct Stream: @unchecked Sendable {
        let handle: OpaquePointer?
    }

    public func makeStream() throws -> Stream {
        var stream: Handle?
        try check(cuStreamCreate(&stream, 1), "cuStreamCreate") // CU_STREAM_NON_BLOCKING
        return Stream(handle: stream)
    }

    public func destroy(_ stream: Stream) { _ = cuStreamDestroy(stream.handle) }

    public func synchronize(_ stream: Stream) throws { try check(cuStreamSynchronize(stream.handle), "cuStreamSynchronize") }

    /// Page-locked host memory: asynchronous copies from and to it overlap and can be captured in a graph.
    public func allocatePinned(bytes: Int) throws -> UnsafeMutableRawPointer {
        var pointer: UnsafeMutableRawPointer?
        try check(cuMemAllocHost(&pointer, max(bytes, 1)), "cuMemAllocHost(\(bytes))")
        guard let pointer else { throw OctetError.unavailable(reason: "cuMemAllocHost returned no memory") }
        return pointer
    }

    public func freePinned(_ pointer: UnsafeMutableRawPointer) { _ = cuMemFreeHost(pointer) }

    public func copyToDevice(_ address: UInt64, from host: UnsafeRawPointer, bytes: Int, stream: Stream) throws {
        guard bytes > 0 else { return }
        try check(cuMemcpyHtoDAsync(address, host, bytes, stream.handle), "cuMemcpyHtoDAsync")
    }

    public func copyToHost(_ host: UnsafeMutableRawPointer, from address: UInt64, bytes: Int, stream: Stream) throws {
        guard bytes > 0 else { return }
        try check(cuMemcpyDtoHAsync(host, address, bytes, stream.handle), "cuMemcpyDtoHAsync")
    }

    public func copyOnDevice(_ destination: UInt64, from source: UInt64, bytes: Int, stream: Stream) throws {
        guard bytes > 0, destination != source else { return }
        try check(cuMemcpyDtoDAsync(destination, source, bytes, stream.handle), "cuMemcpyDtoDAsync")
    }

    /// An instantiated CUDA graph: a recorded sequence of launches and copies replayed with one call.
    public struct GraphExec: @unchecked Sendable {
        let handle: OpaquePointer?
    }

    /// Records everything `body` issues on `stream` into a graph instead of running it.
    public func capture(_ stream: Stream, _ body: () throws -> Void) throws -> GraphExec {
        try check(cuStreamBeginCapture(stream.handle, 2), "cuStreamBeginCapture") // CU_STREAM_CAPTURE_MODE_RELAXED
        var graph: Handle?
        do {
            try body()
        } catch {
            _ = cuStreamEndCapture(stream.handle, &graph)
            if graph != nil { _ = cuGraphDestroy(graph) }
            throw error
        }
        try check(cuStreamEndCapture(stream.handle, &graph), "cuStreamEndCapture")
        defer { _ = cuGraphDestroy(graph) }
        var exec: Handle?
        try check(cuGraphInstantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags")
        return GraphExec(handle: exec)
    }

    public func launch(_ graph: GraphExec, stream: Stream) throws { try check(cuGraphLaunch(graph.handle, stream.handle), "cuGraphLaunch") }

    public func destroy(_ graph: GraphExec) { _ = cuGraphExecDestroy(graph.handle) }

    public struct Event: @unchecked Sendable {
        let handle: OpaquePointer?
    }

    public func makeEvent() throws -> Event {
        var event: Handle?
        try check(cuEventCreate(&event, 0), "cuEventCreate")
        return Event(handle: event)
    }

    public func record(_ event: Event, stream: Stream) throws { try check(cuEventRecord(event.handle, stream.handle), "cuEventRecord") }

    /// Milliseconds between two recorded events (waits for the second).
    public func elapsed(from start: Event, to end: Event) throws -> Float {
        try check(cuEventSynchronize(end.handle), "cuEventSynchronize")
        var ms: Float = 0
        try check(cuEventElapsedTime(&ms, start.handle, end.handle), "cuEventElapsedTime")
        return ms
    }

    public func destroy(_ event: Event) { _ = cuEventDestroy(event.handle) }
}

/// A kernel's parameters packed as the kernel's parameter list lays them out (each at its natural alignment),
/// passed to `cuLaunchKernel` as one buffer. Appending a struct's fields in order passes the struct by value.
public struct KernelArguments: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public init(_ values: [any BitwiseCopyable]) {
        for value in values { append(value) }
    }

    public mutating func append<T: BitwiseCopyable>(_ value: T) {
        let alignment = MemoryLayout<T>.alignment
        while bytes.count % alignment != 0 { bytes.append(0) }
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// Pads to `alignment` (the end of a struct parameter).
    public mutating func align(_ alignment: Int = 8) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
}
