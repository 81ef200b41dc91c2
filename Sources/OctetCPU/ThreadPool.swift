import Foundation
import Synchronization

/// Splits work over the engine's threads.
///
/// Layers of mobile networks at batch 1 take tens of microseconds, so waking sleeping threads for every
/// kernel call (Dispatch's `concurrentPerform`) costs more than it saves. Workers therefore spin for a
/// short while between jobs, and only then sleep on a condition variable, as inference runtimes' pools do.
struct ParallelFor: Sendable {
    let threads: Int
    private let pool: SpinningPool?

    init(threads: Int) {
        self.threads = max(1, threads)
        pool = threads > 1 ? SpinningPool(workers: threads - 1) : nil
    }

    /// Calls `body(range)` on disjoint ranges covering `0..<count`, each a multiple of `granularity` long
    /// (except the last), on up to `threads` threads.
    func run(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        runNumbered(count, granularity: granularity) { _, range in body(range) }
    }

    /// As `run`, also passing the chunk's number, below `threads` and distinct among concurrent calls of
    /// `body`: an index into per-thread scratch space.
    func runNumbered(_ count: Int, granularity: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granularity - 1) / granularity
        let chunks = min(threads, units)
        guard chunks > 1, let pool else {
            body(0, 0..<count)
            return
        }
        pool.run(chunks: chunks) { chunk in
            let first = units * chunk / chunks * granularity
            let last = min(count, units * (chunk + 1) / chunks * granularity)
            if first < last { body(chunk, first..<last) }
        }
    }
}

/// Worker threads that take numbered chunks of the current job; the calling thread works too. The workers
/// hold the shared `PoolState` strongly, so it outlives the pool until they have seen the stop signal.
final class SpinningPool: @unchecked Sendable {
    private let state = PoolState()

    init(workers: Int) {
        for index in 0..<workers {
            let state = self.state
            let thread = Thread { state.work() }
            thread.name = "octet-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit { state.stop() }

    func run(chunks: Int, _ body: (Int) -> Void) { state.run(chunks: chunks, body) }
}

final class PoolState: @unchecked Sendable {
    private let generation = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    private let chunkCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepers = NSCondition()
    /// The current job; written before `nextChunk` is reset (release), read after a chunk is claimed (acquire).
    private var job: ((Int) -> Void)?

    func stop() {
        stopping.store(true, ordering: .releasing)
        wake()
    }

    private func wake() {
        generation.add(1, ordering: .releasing)
        sleepers.lock()
        sleepers.broadcast()
        sleepers.unlock()
    }

    func run(chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            // Order matters: a worker still finishing the previous job may claim a chunk of this one as soon
            // as `nextChunk` is reset, so the job and the counts must already be in place.
            job = body
            chunkCount.store(chunks, ordering: .relaxed)
            unfinished.store(chunks, ordering: .relaxed)
            nextChunk.store(0, ordering: .releasing)
            wake()
            takeChunks()
            while unfinished.load(ordering: .acquiring) > 0 {}
            // A worker still leaving this job may yet add to `nextChunk`: park the counter far beyond any chunk
            // count, so such a late claim can never be read as a chunk of the next job once its count is stored
            // (seen with 16 threads: a chunk ran twice, `unfinished` went negative, and `run` returned while a
            // worker still held the closure).
            nextChunk.store(Int.max / 2, ordering: .releasing)
            job = nil
        }
    }

    private func takeChunks() {
        while true {
            let chunk = nextChunk.add(1, ordering: .acquiringAndReleasing).oldValue
            guard chunk < chunkCount.load(ordering: .acquiring) else { return }
            runChunk(chunk)
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    /// Touches `job` only for a claimed chunk, and drops its reference before the chunk is reported done,
    /// so the caller's closure never outlives `run`.
    @inline(never)
    private func runChunk(_ chunk: Int) { job?(chunk) }

    func work() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins > 200_000 {
                    sleepers.lock()
                    while generation.load(ordering: .acquiring) == seen { sleepers.wait() }
                    sleepers.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            takeChunks()
        }
    }
}

/// Carries a non-Sendable value across threads where the code guarantees disjoint use.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
