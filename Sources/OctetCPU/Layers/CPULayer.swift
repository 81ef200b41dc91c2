import OctetCore
import OctetRuntime

/// One compiled layer of the CPU backend: reads its input buffers, writes its output buffers.
protocol CPULayer: Sendable {
    /// Kernel name for the build report; states types, layout and ISA (e.g. `qgemm_u8s8_nhwc_im2col__avx512vnni`).
    var kernelName: String { get }
    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws
}

/// What a layer may use while running: the thread pool and the per-state scratch memory.
final class CPURunContext {
    let pool: ParallelFor
    private(set) var scratch: UnsafeMutableRawPointer
    private var capacity: Int

    /// The index of the layer now running; keys `cached(_:)`.
    var currentLayer = 0
    /// Per-layer buffers that stay valid while the arena does (indirection tables hold arena addresses).
    private var cache: [Int: (pointer: UnsafeMutableRawPointer, bytes: Int)] = [:]

    /// A buffer of `bytes` for the current layer, built by `build` the first time and kept until
    /// `invalidateCache` (called when the arena moves).
    func cached(bytes: Int, build: (UnsafeMutableRawPointer) -> Void) -> UnsafeMutableRawPointer {
        if let entry = cache[currentLayer], entry.bytes == bytes { return entry.pointer }
        cache[currentLayer]?.pointer.deallocate()
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        build(pointer)
        cache[currentLayer] = (pointer, bytes)
        return pointer
    }

    func invalidateCache() {
        for entry in cache.values { entry.pointer.deallocate() }
        cache = [:]
    }

    init(threads: Int) {
        pool = ParallelFor(threads: threads)
        capacity = 1 << 16
        scratch = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        scratch.deallocate()
        invalidateCache()
    }

    /// Scratch memory of at least `bytes` bytes, valid until the next call.
    func scratch(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > capacity {
            scratch.deallocate()
            capacity = max(bytes, capacity * 2)
            scratch = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        }
        return scratch
    }
}

/// The CPU backend keeps activations in host memory in the shared physical layout.
typealias CPUTensorLayout = TensorLayout
typealias CPUBuffer = HostTensor
