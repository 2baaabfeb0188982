import Foundation
import Synchronization
import Testing

@testable import CrocSupport

@Suite("A value computed in the background")
struct BackgroundTests {
    @Test("the body runs once, on another thread, while the caller goes on; value waits for it and keeps it")
    func computesOnceWhileTheCallerWorks() {
        let runs = Mutex(0)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let job = Background { () -> [Int] in
            runs.withLock { $0 += 1 }
            started.signal()
            release.wait()  // held until the caller has done its own work
            return Array(0..<1_000)
        }
        // The body has started without `value` being asked for, and the caller is not blocked.
        #expect(started.wait(timeout: .now() + 10) == .success)
        release.signal()
        #expect(job.value == Array(0..<1_000))
        #expect(job.value.count == 1_000)
        #expect(runs.withLock { $0 } == 1)
    }

    @Test("a body no worker has started is computed by the caller of value, once; the late worker does nothing")
    func callerComputesWhatNoWorkerStarted() {
        let runs = Mutex(0)
        let queued = Mutex<[@Sendable () -> Void]>([])
        // A starved pool: the worker's job is queued and not run.
        let starve: (@escaping @Sendable () -> Void) -> Void = { work in queued.withLock { $0.append(work) } }
        let job = Background(start: starve) { () -> String in
            runs.withLock { $0 += 1 }
            return "computed"
        }
        #expect(!job.isClaimed)
        #expect(job.value == "computed")
        #expect(job.isClaimed)
        #expect(runs.withLock { $0 } == 1)
        // The worker gets a thread at last: the body is not run again, and value keeps its result.
        for work in queued.withLock({ $0 }) { work() }
        #expect(runs.withLock { $0 } == 1)
        #expect(job.value == "computed")
    }

    @Test("a body a worker has claimed is waited for, not run again by the caller")
    func callerWaitsForAClaimedBody() {
        let runs = Mutex(0)
        // The worker runs at once (inside init), as a free pool would before value is asked for.
        let runAtOnce: (@escaping @Sendable () -> Void) -> Void = { work in work() }
        let job = Background(start: runAtOnce) { () -> Int in
            runs.withLock { $0 += 1 }
            return 42
        }
        #expect(job.isClaimed)
        #expect(job.value == 42)
        #expect(runs.withLock { $0 } == 1)
    }
}
