import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A progress bar with rate and ETA on a terminal; periodic log lines when
/// stderr is not a terminal (CI, pipes).
final class ProgressReporter: @unchecked Sendable {
    // @unchecked: used from the single thread that drives the work.
    private let label: String
    private let interactive = isatty(2) == 1
    private let started = ContinuousClock.now
    private var lastLine = ContinuousClock.now - .seconds(60)

    init(_ label: String) { self.label = label }

    func update(step: Int, total: Int, detail: String) {
        let now = ContinuousClock.now
        let elapsed = Double((now - started).components.seconds) + Double((now - started).components.attoseconds) / 1e18
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let eta = rate > 0 ? max(0, Double(total - step)) / rate : 0
        if interactive {
            let width = 30
            let filled = total > 0 ? width * step / total : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(
                Data(String(format: "\r%@ [%@] %d/%d %@ %.1f/s ETA %.0fs ", label, bar, step, total, detail, rate, eta).utf8)
            )
            if step >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if now - lastLine >= .seconds(2) || step >= total || step == 1 {
            lastLine = now
            FileHandle.standardError.write(Data(String(format: "%@: %d/%d %@ (%.1f/s, ETA %.0fs)\n", label, step, total, detail, rate, eta).utf8))
        }
    }
}
