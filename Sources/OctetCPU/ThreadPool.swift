import Dispatch

/// Splits work over the engine's threads. Dispatch's `concurrentPerform` runs one chunk per worker and
/// returns when all are done; with one thread it runs inline.
struct ParallelFor: Sendable {
    let threads: Int

    /// Calls `body(range)` on disjoint ranges covering `0..<count`, each a multiple of `granularity` long
    /// (except the last), on up to `threads` threads.
    func run(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granularity - 1) / granularity
        let chunks = min(threads, units)
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let first = units * chunk / chunks * granularity
                let last = min(count, units * (chunk + 1) / chunks * granularity)
                if first < last { box.value(first..<last) }
            }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`: the chunks touch disjoint memory.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
