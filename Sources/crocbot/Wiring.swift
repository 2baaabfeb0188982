import ArgumentParser
import CrocSupport
import Foundation

/// What every command shares: where the shipped defaults live and how errors reach the user.
enum Wiring {
    /// The sample data and examples the defaults name, shipped as this executable's package
    /// resources (`Sources/crocbot/Defaults`), so `crocbot backtest` and `crocbot live --paper`
    /// work from any directory and from an installed binary (copy `crocbot` together with
    /// `CrocBot_crocbot.resources`).
    /// (Found only when a named file is missing: the common run never locates the bundle.)
    static let packaged = PackagedFiles(findingRoots: resourceRoots)

    private static func resourceRoots() -> [URL] {
        let bundle = "CrocBot_crocbot.resources"
        var roots: [URL] = []
        // Next to the executable, symbolic links resolved (an installed binary), then as invoked.
        if let exe = executableURL() {
            roots.append(exe.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(bundle).appendingPathComponent("Defaults"))
        }
        if let invoked = invokedDirectory() { roots.append(invoked.appendingPathComponent(bundle).appendingPathComponent("Defaults")) }
        // The source tree this binary was built from, while it exists.
        roots.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Defaults"))
        return roots
    }

    /// The running executable: `/proc/self/exe` on Linux (Foundation's `Bundle.main` reads the
    /// bundle's information first, a few milliseconds), else `Bundle.main`'s.
    private static func executableURL() -> URL? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, 4096)
        if n > 0 { return URL(fileURLWithPath: String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        #endif
        return Bundle.main.executableURL
    }

    /// The folder of the executable as it was invoked, symbolic links kept (nil for a name found
    /// on the `PATH`: the resolved executable's folder stands for it).
    private static func invokedDirectory() -> URL? {
        #if os(Linux)
        let argument0 = CommandLine.arguments.first ?? ""
        return argument0.contains("/") ? URL(fileURLWithPath: argument0).deletingLastPathComponent() : nil
        #else
        return Bundle.main.bundleURL
        #endif
    }

    /// The effective configuration as pretty JSON, for reports ("the settings of this run").
    static func settingsJSON(_ cfg: AppConfig) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(cfg)).flatMap { String(data: $0, encoding: .utf8) } ?? "\(cfg)"
    }

    /// Runs a command's body with the one error style: `error: <typed message>` on stderr and
    /// exit status 1; usage errors go to the argument parser (see ``report(_:)``).
    static func reportingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw report(error)
        }
    }

    /// ``reportingErrors(_:)`` for async commands.
    static func reportingErrorsAsync<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw report(error)
        }
    }

    /// Writes `error: <error>` to stderr and returns exit status 1. An `ExitCode` (the command
    /// has reported already) and a `ValidationError` (a usage error: the argument parser prints
    /// it with the usage) are returned as they are.
    static func report(_ error: any Error) -> any Error {
        if error is ExitCode || error is ValidationError { return error }
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ExitCode(1)
    }
}
