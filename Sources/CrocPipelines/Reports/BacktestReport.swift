import CrocCore
import CrocEngine
import Foundation
import Synchronization

/// Text and CSV renderings of a backtest result.
public enum BacktestReport {
    /// The statistics as `(label, value)` rows, in backtesting.py's order and spelling.
    public static func rows(_ s: BacktestStatistics) -> [(String, String)] {
        // `%.6f` and `%lld days %02lld:%02lld:%02lld` as printf writes them, without `String(format:)`
        // (its first use per argument type scans the binary's protocol conformances: ~3 ms a command).
        func num(_ x: Double, _ digits: Int = 6) -> String {
            if x.isNaN { return "NaN" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            return ByteText.fixed(x, decimals: digits)
        }
        func two(_ v: Int64) -> String { v >= 0 && v < 10 ? "0" + String(v) : String(v) }
        func dur(_ seconds: Double) -> String {
            guard seconds.isFinite else { return "NaN" }
            let total = Int64(seconds.rounded())
            let days = total / 86400
            let rem = total % 86400
            return String(days) + " days " + two(rem / 3600) + ":" + two(rem % 3600 / 60) + ":" + two(rem % 60)
        }
        return [
            ("Start", s.start.iso8601()),
            ("End", s.end.iso8601()),
            ("Duration", dur(s.durationSeconds)),
            ("Exposure Time [%]", num(s.exposureTimePct)),
            ("Equity Final [$]", num(s.equityFinal)),
            ("Equity Peak [$]", num(s.equityPeak)),
            ("Commissions [$]", num(s.commissions)),
            ("Return [%]", num(s.returnPct)),
            ("Buy & Hold Return [%]", num(s.buyAndHoldReturnPct)),
            ("Return (Ann.) [%]", num(s.returnAnnualizedPct)),
            ("Volatility (Ann.) [%]", num(s.volatilityAnnualizedPct)),
            ("CAGR [%]", num(s.cagrPct)),
            ("Sharpe Ratio", num(s.sharpeRatio)),
            ("Sortino Ratio", num(s.sortinoRatio)),
            ("Calmar Ratio", num(s.calmarRatio)),
            ("Alpha [%]", num(s.alphaPct)),
            ("Beta", num(s.beta)),
            ("Max. Drawdown [%]", num(s.maxDrawdownPct)),
            ("Avg. Drawdown [%]", num(s.avgDrawdownPct)),
            ("Max. Drawdown Duration", dur(s.maxDrawdownDurationSeconds)),
            ("Avg. Drawdown Duration", dur(s.avgDrawdownDurationSeconds)),
            ("# Trades", String(s.tradeCount)),
            ("Win Rate [%]", num(s.winRatePct)),
            ("Best Trade [%]", num(s.bestTradePct)),
            ("Worst Trade [%]", num(s.worstTradePct)),
            ("Avg. Trade [%]", num(s.avgTradePct)),
            ("Max. Trade Duration", dur(s.maxTradeDurationSeconds)),
            ("Avg. Trade Duration", dur(s.avgTradeDurationSeconds)),
            ("Profit Factor", num(s.profitFactor)),
            ("Expectancy [%]", num(s.expectancyPct)),
            ("SQN", num(s.sqn)),
            ("Kelly Criterion", num(s.kellyCriterion)),
        ]
    }

    /// An aligned two-column table: labels left, values right-aligned.
    public static func table(_ result: BacktestResult) -> String {
        var rows = [("Strategy", result.strategyName), ("Symbol", result.instrument.symbol)]
        if result.symbols.count > 1 { rows = [("Strategy", result.strategyName), ("Symbols", "\(result.symbols.count)")] }
        rows += Self.rows(result.statistics)
        let lw = rows.map { $0.0.count }.max() ?? 0
        let vw = rows.map { $0.1.count }.max() ?? 0
        return rows.map { label, value in
            label + String(repeating: " ", count: lw - label.count) + "  " + String(repeating: " ", count: vw - value.count) + value
        }.joined(separator: "\n")
    }

    /// The trades as CSV (backtesting.py's column names).
    public static func tradesCSV(_ result: BacktestResult) -> String {
        String(decoding: tradesCSVBytes(result), as: UTF8.self)
    }

    /// `tradesCSV` as UTF-8 bytes, written into one buffer (no per-field `String` but the
    /// return's shortest round-trip text).
    public static func tradesCSVBytes(_ result: BacktestResult) -> [UInt8] {
        var out: [UInt8] = Array("Size,EntryBar,ExitBar,EntryPrice,ExitPrice,PnL,ReturnPct,Commission,EntryTime,ExitTime,Duration,Tag,Symbol\n".utf8)
        out.reserveCapacity(out.count + result.trades.count * 160)
        let comma = UInt8(ascii: ",")
        var entryDates = ByteText.ISODateCache()
        var exitDates = ByteText.ISODateCache()
        for t in result.trades {
            ByteText.appendFixedPoint(t.quantity, to: &out)
            out.append(comma)
            ByteText.appendInteger(Int64(t.entryBar), to: &out)
            out.append(comma)
            ByteText.appendInteger(Int64(t.exitBar), to: &out)
            out.append(comma)
            ByteText.appendFixedPoint(t.entryPrice, to: &out)
            out.append(comma)
            ByteText.appendFixedPoint(t.exitPrice, to: &out)
            out.append(comma)
            ByteText.appendFixedPoint(t.pnl, to: &out)
            out.append(comma)
            out.append(contentsOf: t.returnFraction.description.utf8)
            out.append(comma)
            ByteText.appendFixedPoint(t.commission, to: &out)
            out.append(comma)
            ByteText.appendISO8601(t.entryTime, to: &out, cache: &entryDates)
            out.append(comma)
            ByteText.appendISO8601(t.exitTime, to: &out, cache: &exitDates)
            out.append(comma)
            ByteText.appendInteger(t.duration / 1_000_000_000, to: &out)
            out.append(comma)
            if let tag = t.tag { out.append(contentsOf: tag.utf8) }
            out.append(comma)
            out.append(contentsOf: t.symbol.utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The equity curve as CSV: time, equity, drawdown %.
    public static func equityCSV(_ result: BacktestResult) -> String {
        String(decoding: equityCSVBytes(result), as: UTF8.self)
    }

    /// `equityCSV` as UTF-8 bytes, written into one buffer (no per-row `String`, no
    /// `String(format:)`): the same text, byte for byte (`ByteText.appendFixed` is `%.Nf`).
    public static func equityCSVBytes(_ result: BacktestResult) -> [UInt8] {
        equityCSVBytes(result, rows: 0..<result.equity.count, header: true, peak: -Double.infinity)
    }

    /// The rows `rows` of equity.csv; `peak` is the highest equity before them (the drawdown's reference).
    static func equityCSVBytes(_ result: BacktestResult, rows: Range<Int>, header: Bool, peak peakBefore: Double) -> [UInt8] {
        var out: [UInt8] = header ? Array("Time,Equity,DrawdownPct\n".utf8) : []
        out.reserveCapacity(32 + rows.count * 48)
        var peak = peakBefore
        var dates = ByteText.ISODateCache()
        result.equity.withUnsafeBufferPointer { equity in
            result.timestamps.withUnsafeBufferPointer { times in
                for i in rows {
                    let e = equity[i]
                    peak = max(peak, e)
                    ByteText.appendISO8601(Timestamp(nanoseconds: times[i]), to: &out, cache: &dates)
                    out.append(UInt8(ascii: ","))
                    ByteText.appendFixed(e, decimals: 8, to: &out)
                    out.append(UInt8(ascii: ","))
                    ByteText.appendFixed((1 - e / peak) * 100, decimals: 6, to: &out)
                    out.append(UInt8(ascii: "\n"))
                }
            }
        }
        return out
    }

    /// `fills.csv`: every fill, `Time,Symbol,Side,Quantity,Price,Commission,Tag`.
    public static func fillsCSVBytes(_ result: BacktestResult) -> [UInt8] {
        var out: [UInt8] = Array("Time,Symbol,Side,Quantity,Price,Commission,OrderID\n".utf8)
        out.reserveCapacity(out.count + result.fills.count * 80)
        let comma = UInt8(ascii: ",")
        var dates = ByteText.ISODateCache()
        for f in result.fills {
            ByteText.appendISO8601(f.timestamp, to: &out, cache: &dates)
            out.append(comma)
            out.append(contentsOf: f.symbol.utf8)
            out.append(comma)
            out.append(contentsOf: (f.side == .buy ? "Buy" : "Sell").utf8)
            out.append(comma)
            ByteText.appendFixedPoint(f.quantity, to: &out)
            out.append(comma)
            ByteText.appendFixedPoint(f.price, to: &out)
            out.append(comma)
            ByteText.appendFixedPoint(f.commission, to: &out)
            out.append(comma)
            ByteText.appendInteger(Int64(f.orderID.rawValue), to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// `weights.csv`: the realised weight of each symbol after each rebalance, `Time,<symbols...>`.
    public static func weightsCSVBytes(_ result: BacktestResult) -> [UInt8] {
        var out: [UInt8] = Array(("Time," + result.symbols.joined(separator: ",") + "\n").utf8)
        for row in result.weights {
            ByteText.appendISO8601(row.time, to: &out)
            for w in row.weights {
                out.append(UInt8(ascii: ","))
                ByteText.appendFixed(w, decimals: 9, to: &out)
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The per-symbol table of a portfolio backtest (largest contribution first).
    public static func symbolTable(_ result: BacktestResult, limit: Int = 20) -> String {
        let sorted = result.symbolStatistics.sorted {
            $0.contributionPct != $1.contributionPct ? $0.contributionPct > $1.contributionPct : $0.symbol < $1.symbol
        }
        var lines = [["Symbol", "Contribution [%]", "Turnover", "Exposure [%]", "Trades", "Fills", "Commissions [$]"]]
        for s in sorted.prefix(limit) {
            lines.append([
                s.symbol, ByteText.fixed(s.contributionPct, decimals: 4), ByteText.fixed(s.turnover, decimals: 3),
                ByteText.fixed(s.exposurePct, decimals: 2),
                String(s.trades), String(s.fills), ByteText.fixed(s.commissions, decimals: 2),
            ])
        }
        let widths = (0..<lines[0].count).map { c in lines.map { $0[c].count }.max() ?? 0 }
        var text = lines.map { row in
            row.enumerated().map { c, v in
                c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[c] - v.count) + v
            }
            .joined(separator: "  ")
        }.joined(separator: "\n")
        if sorted.count > limit { text += "\n... \(sorted.count - limit) more symbols in the report" }
        return text
    }

    /// Writes `trades.csv`, `equity.csv`, `fills.csv` (and, after rebalances, `weights.csv`)
    /// and the HTML report at once, on every core: the report's sections, the equity curve in
    /// pieces (up to four, by rows) and each other file are separate tasks, and each file is
    /// written by the task that completes its last piece, while the others still run. The files
    /// are byte for byte what `write`, `fillsCSVBytes`, `weightsCSVBytes` and
    /// `BacktestHTMLReport.write` give; each appears whole or not at all.
    /// - Returns: The trades, equity and report paths.
    /// - Throws: Foundation's error when a directory or file cannot be written.
    @discardableResult
    public static func writeAll(
        _ result: BacktestResult,
        to directory: String,
        report reportPath: String,
        configuration: String
    ) throws -> (trades: String, equity: String, report: String) {
        try writeAll(result, to: directory, report: reportPath, configuration: configuration, rowsPerPiece: 50_000)
    }

    /// `writeAll` with equity.csv cut into pieces of at least `rowsPerPiece` rows (up to four).
    @discardableResult
    static func writeAll(
        _ result: BacktestResult,
        to directory: String,
        report reportPath: String,
        configuration: String,
        rowsPerPiece: Int
    ) throws -> (trades: String, equity: String, report: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let reportURL = URL(fileURLWithPath: reportPath)
        try FileManager.default.createDirectory(at: reportURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let trades = (directory as NSString).appendingPathComponent("trades.csv")
        let equity = (directory as NSString).appendingPathComponent("equity.csv")
        // The equity curve in pieces of at least `rowsPerPiece` rows, each with the peak before it.
        let n = result.equity.count
        let pieces = max(1, min(4, n / max(1, rowsPerPiece)))
        let bounds = (0...pieces).map { $0 * n / pieces }
        var peaks = [-Double.infinity]
        for i in 1..<max(1, pieces) { peaks.append(max(peaks[i - 1], result.equity[bounds[i - 1]..<bounds[i]].max() ?? -Double.infinity)) }
        let report = BacktestHTMLReport.parts(result, configuration: configuration)
        // Byte tasks: equity's pieces first (the largest), then trades, fills and weights; then
        // the report's sections. Each file lists the tasks that make it, in order.
        var tasks: [() -> [UInt8]] = (0..<pieces).map { i in
            { equityCSVBytes(result, rows: bounds[i]..<bounds[i + 1], header: i == 0, peak: peaks[i]) }
        }
        var files: [(path: String, tasks: Range<Int>)] = [(equity, 0..<pieces)]
        tasks.append { tradesCSVBytes(result) }
        files.append((trades, pieces..<(pieces + 1)))
        tasks.append { fillsCSVBytes(result) }
        files.append(((directory as NSString).appendingPathComponent("fills.csv"), (pieces + 1)..<(pieces + 2)))
        if !result.weights.isEmpty {
            tasks.append { weightsCSVBytes(result) }
            files.append(((directory as NSString).appendingPathComponent("weights.csv"), (tasks.count - 1)..<tasks.count))
        }
        let job = WriteJob(tasks: tasks, files: files, sections: report.sections, reportPath: reportPath, page: report.page)
        DispatchQueue.concurrentPerform(iterations: tasks.count + report.sections.count) { job.run($0) }
        if let error = job.failure.withLock({ $0 }) { throw error }
        return (trades, equity, reportPath)
    }

    /// The tasks of `writeAll`: each keeps its output in its own slot; the task that completes a
    /// file's last piece writes the file (the report: joins the sections and writes the page).
    private final class WriteJob: @unchecked Sendable {
        let tasks: [() -> [UInt8]]
        let files: [(path: String, tasks: Range<Int>)]
        let sections: [() -> String]
        let reportPath: String
        let page: ([String]) -> String
        let bytes: UnsafeMutableBufferPointer<[UInt8]>
        let html: UnsafeMutableBufferPointer<String>
        /// Pieces still to come, per file (the report last).
        let remaining: Mutex<[Int]>
        let failure = Mutex<(any Error)?>(nil)

        init(
            tasks: [() -> [UInt8]],
            files: [(path: String, tasks: Range<Int>)],
            sections: [() -> String],
            reportPath: String,
            page: @escaping ([String]) -> String
        ) {
            self.tasks = tasks
            self.files = files
            self.sections = sections
            self.reportPath = reportPath
            self.page = page
            bytes = .allocate(capacity: max(1, tasks.count))
            bytes.initialize(repeating: [])
            html = .allocate(capacity: max(1, sections.count))
            html.initialize(repeating: "")
            remaining = Mutex(files.map(\.tasks.count) + [sections.count])
        }

        deinit {
            bytes.deinitialize().deallocate()
            html.deinitialize().deallocate()
        }

        func run(_ task: Int) {
            let file: Int
            if task < tasks.count {
                bytes[task] = tasks[task]()
                file = files.firstIndex { $0.tasks.contains(task) }!
            } else {
                html[task - tasks.count] = sections[task - tasks.count]()
                file = files.count
            }
            let last = remaining.withLock { counts in
                counts[file] -= 1
                return counts[file] == 0
            }
            guard last else { return }
            do {
                if file < files.count {
                    let f = files[file]
                    try BacktestReport.writeAtomically(f.path, f.tasks.map { bytes[$0] })
                    for t in f.tasks { bytes[t] = [] }
                } else {
                    try BacktestReport.writeAtomically(reportPath, [Array(page(Array(html)).utf8)])
                }
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
    }

    /// Writes `chunks` one after another to a temporary file beside `path`, then renames it into place.
    static func writeAtomically(_ path: String, _ chunks: [[UInt8]]) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard let f = fopen(temporary, "wb") else {
            throw CocoaError(
                .fileWriteNoPermission,
                userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))]
            )
        }
        var ok = true
        for chunk in chunks where !chunk.isEmpty {
            ok = ok && chunk.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) == $0.count }
        }
        ok = fclose(f) == 0 && ok
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "cannot write \(path): \(reason)"])
        }
    }

    /// Writes `trades.csv` and `equity.csv` into `directory`, creating it.
    /// - Returns: The two file paths.
    /// - Throws: Foundation's error when the directory or files cannot be written.
    @discardableResult
    public static func write(_ result: BacktestResult, to directory: String) throws -> (trades: String, equity: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let trades = (directory as NSString).appendingPathComponent("trades.csv")
        let equity = (directory as NSString).appendingPathComponent("equity.csv")
        try Data(tradesCSVBytes(result)).write(to: URL(fileURLWithPath: trades), options: .atomic)
        try Data(equityCSVBytes(result)).write(to: URL(fileURLWithPath: equity), options: .atomic)
        return (trades, equity)
    }
}
