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
}
