import CrocCore
import CrocData
import CrocEngine
import CrocSupport
import Foundation

/// The self-contained HTML report of a backtest: inline SVG charts, the
/// statistics table and the run's configuration. No scripts, no network.
public enum BacktestHTMLReport {
    /// The chart ids every report contains (tests and the Chromium check look for them).
    public static let chartIDs = ["price", "equity", "drawdown", "monthly", "trades", "rolling-sharpe"]
    /// The chart ids a portfolio backtest's report adds.
    public static let portfolioChartIDs = ["weights", "contribution", "correlation"]

    /// Renders the report.
    /// - Parameters:
    ///   - result: The backtest.
    ///   - configuration: The run's settings as text (shown verbatim).
    public static func render(_ result: BacktestResult, configuration: String) -> String {
        let report = parts(result, configuration: configuration)
        return report.page(report.sections.map { $0() })
    }

    /// A report in parts: each section's builder, independent of the others (`BacktestReport.writeAll`
    /// runs them on every core beside the CSV files), and the page that joins their output in order.
    struct Parts {
        /// The sections' builders, in page order.
        var sections: [() -> String]
        /// The page around the sections' output (`render` = `page(sections.map { $0() })`).
        var page: ([String]) -> String
    }

    /// The report's sections as independent builders (see `Parts`).
    static func parts(_ result: BacktestResult, configuration: String) -> Parts {
        let t = result.timestamps
        let n = result.equity.count
        func date(_ x: Double) -> String {
            let i = min(max(0, Int(x.rounded())), n - 1)
            return String(Timestamp(nanoseconds: t[i]).iso8601().prefix(10))
        }
        let portfolio = result.symbols.count > 1
        // 1. Price with entries and exits: every trade up to `maxMarkedTrades`, else an evenly
        // spaced sample of them (a 900-pixel chart cannot show more; the caption says how many).
        let price = {
            var markers: [SVG.Marker] = []
            let marked = portfolio ? [] : markedTrades(result.trades.count)
            markers.reserveCapacity(marked.count * 2)
            for k in marked {
                let trade = result.trades[k]
                let long = trade.quantity.raw > 0
                markers.append(
                    .init(
                        x: Double(trade.entryBar),
                        y: trade.entryPrice.doubleValue,
                        up: long,
                        color: "#2e9d5b",
                        title: "entry \(trade.entryTime.iso8601()) @ \(trade.entryPrice)"
                    )
                )
                markers.append(
                    .init(
                        x: Double(trade.exitBar),
                        y: trade.exitPrice.doubleValue,
                        up: !long,
                        color: "#d9534f",
                        title: "exit \(trade.exitTime.iso8601()) @ \(trade.exitPrice), PnL \(trade.pnl.formatted(decimals: 2))"
                    )
                )
            }
            return SVG.lineChart(
                id: "price",
                title: portfolio
                    ? "Equal-weight buy & hold of the \(result.symbols.count) symbols (index, 1 at the start)"
                    : marked.count == result.trades.count
                        ? "\(result.instrument.symbol) close with trades"
                        : "\(result.instrument.symbol) close with \(marked.count) of \(result.trades.count) trades marked (evenly spaced)",
                series: [.init(values: result.closes, color: "#3366cc", label: "close")],
                markers: markers,
                xLabel: date
            ).widened
        }
        // 2. Equity against buy & hold from the first tradable bar.
        let equity = {
            let start = min(max(0, result.warmupBars), n - 1)
            let initial = result.equity.first ?? 0
            let hold = (0..<n).map { i in i < start ? initial : initial * result.closes[i] / result.closes[start] }
            return SVG.lineChart(
                id: "equity",
                title: portfolio ? "Equity vs equal-weight buy & hold" : "Equity vs buy & hold",
                series: [
                    .init(values: result.equity, color: "#3366cc", label: "strategy"),
                    .init(values: hold, color: "#999999", label: portfolio ? "equal-weight buy & hold" : "buy & hold"),
                ],
                xLabel: date
            )
        }
        // 3. Underwater.
        let drawdown = {
            var peak = -Double.infinity
            let dd = result.equity.map { e -> Double in
                peak = max(peak, e)
                return (e / peak - 1) * 100
            }
            return SVG.lineChart(
                id: "drawdown",
                title: "Drawdown (%)",
                series: [.init(values: dd, color: "#d9534f", label: "drawdown", area: true)],
                xLabel: date,
                yFormat: { ByteText.fixed($0, decimals: 0) + "%" },
                zeroLine: true
            )
        }
        // 4. Monthly returns.
        let monthly = {
            let (years, cells) = monthlyReturns(result)
            return SVG.monthlyHeatmap(id: "monthly", title: "Monthly returns (%)", years: years, values: cells).widened
        }
        // 5. Trade returns.
        let trades = {
            SVG.histogram(
                id: "trades",
                title: "Trade returns (%), \(result.trades.count) trades",
                values: result.trades.map { $0.returnFraction * 100 },
                format: { ByteText.fixed($0, decimals: 1) + "%" }
            )
        }
        // 6. Rolling Sharpe.
        let sharpe = {
            let (window, perYear) = rollingWindow(result)
            return SVG.lineChart(
                id: "rolling-sharpe",
                title: "Rolling Sharpe (\(window) bars, annualised)",
                series: [
                    .init(
                        values: rollingSharpe(result.equity, window: window, perYear: perYear),
                        color: "#8e44ad",
                        label: "Sharpe"
                    )
                ],
                xLabel: date,
                yFormat: { ByteText.fixed($0, decimals: 1) },
                zeroLine: true
            )
        }
        let stats = {
            SVG.table(
                "Statistics",
                rows: [("Strategy", result.strategyName), portfolio ? ("Symbols", "\(result.symbols.count)") : ("Symbol", result.instrument.symbol)]
                    + BacktestReport.rows(result.statistics)
            )
        }
        let config = { SVG.text("Configuration", configuration) }
        let s = result.statistics
        let subtitle =
            "\(result.strategyName) on \(result.instrument.symbol), \(s.start.iso8601()) to \(s.end.iso8601()): return \(ByteText.fixed(s.returnPct, decimals: 2))%, Sharpe \(ByteText.fixed(s.sharpeRatio, decimals: 2)), max drawdown \(ByteText.fixed(s.maxDrawdownPct, decimals: 2))%, \(s.tradeCount) trades"
        let title = "CrocBot backtest: \(result.strategyName)"
        let charts: [() -> String] = [price, equity, drawdown, monthly, trades, sharpe]
        return Parts(
            sections: charts + (portfolio ? portfolioSections(result, date: date) : []) + [stats, config],
            page: { SVG.page(title: title, subtitle: subtitle, sections: $0) }
        )
    }

    /// The portfolio charts: weights over time (stacked, the 10 largest on average and
    /// "others"), each symbol's contribution, the correlation of the symbols' returns (the 20
    /// largest contributors by size), and the per-symbol table.
    static func portfolioSections(_ result: BacktestResult, date: @escaping (Double) -> String) -> [() -> String] {
        let symbols = result.symbols
        var sections: [() -> String] = []
        // Weights: cumulative sums drawn largest first, so each band shows one symbol.
        if !result.weights.isEmpty {
            sections.append {
                let k = symbols.count
                var mean = [Double](repeating: 0, count: k)
                for row in result.weights { for i in 0..<k { mean[i] += row.weights[i] } }
                let order = (0..<k).sorted { mean[$0] != mean[$1] ? mean[$0] > mean[$1] : $0 < $1 }
                let shown = Array(order.prefix(10).filter { mean[$0] > 0 })
                let palette = [
                    "#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e", "#316395", "#999999",
                ]
                var bands: [[(x: Double, y: Double)]] = []
                var labels: [String] = []
                var cumulative = [Double](repeating: 0, count: result.weights.count)
                for i in shown {
                    for (r, row) in result.weights.enumerated() { cumulative[r] += row.weights[i] }
                    bands.append(result.weights.enumerated().map { (x: Double($1.index), y: cumulative[$0]) })
                    labels.append(symbols[i])
                }
                if shown.count < k {
                    for (r, row) in result.weights.enumerated() { cumulative[r] = row.weights.reduce(0, +) }
                    bands.append(result.weights.enumerated().map { (x: Double($1.index), y: cumulative[$0]) })
                    labels.append("others")
                }
                let series = bands.enumerated().reversed().map { j, points in
                    SVG.Series(points: points, color: palette[min(j, palette.count - 1)], label: labels[j], area: true)
                }
                return SVG.lineChart(
                    id: "weights",
                    title: "Weights after each rebalance (stacked, \(result.weights.count) rebalances)",
                    series: series,
                    xLabel: date,
                    yFormat: { ByteText.fixed($0 * 100, decimals: 0) + "%" }
                ).widened
            }
        }
        let byContribution = Array(result.symbolStatistics.sorted { abs($0.contributionPct) > abs($1.contributionPct) }.prefix(20))
        sections.append {
            SVG.barChart(
                id: "contribution",
                title: "Contribution to return (%), \(byContribution.count) of \(symbols.count) symbols by size",
                labels: byContribution.map(\.symbol),
                values: byContribution.map(\.contributionPct),
                format: { ByteText.fixed($0, decimals: 2) + "%" }
            )
        }
        if let universe = result.universe {
            sections.append {
                let picked = byContribution.compactMap { universe.index(of: $0.symbol) }
                let returns = picked.map { s -> [Double] in
                    var r = [Double](repeating: .nan, count: universe.timestamps.count)
                    var last: Double?
                    let m = universe.members[s]
                    for t in universe.timestamps.indices {
                        guard let i = universe.barIndex(symbol: s, time: t) else { continue }
                        if let l = last, l > 0 { r[t] = m.close[i] / l - 1 }
                        last = m.close[i]
                    }
                    return r
                }
                // Symmetric (`correlation(a, b)` is `correlation(b, a)` bit for bit): each pair once.
                var matrix = [[Double]](repeating: [Double](repeating: .nan, count: returns.count), count: returns.count)
                for i in returns.indices {
                    for j in i..<returns.count {
                        matrix[i][j] = correlation(returns[i], returns[j])
                        matrix[j][i] = matrix[i][j]
                    }
                }
                return SVG.matrixHeatmap(
                    id: "correlation",
                    title: "Correlation of returns (bar to bar, rows both symbols trade)",
                    labels: picked.map { universe.symbols[$0] },
                    values: matrix
                )
            }
        }
        sections.append {
            "<section class=\"wide\"><h2>Per symbol</h2><pre>\(SVG.escape(BacktestReport.symbolTable(result, limit: 50)))</pre></section>"
        }
        return sections
    }

    /// Pearson correlation over the rows where both are finite.
    static func correlation(_ a: [Double], _ b: [Double]) -> Double {
        var n = 0.0
        var sa = 0.0
        var sb = 0.0
        for i in a.indices where a[i].isFinite && b[i].isFinite {
            n += 1
            sa += a[i]
            sb += b[i]
        }
        guard n > 2 else { return .nan }
        let ma = sa / n
        let mb = sb / n
        var cov = 0.0
        var va = 0.0
        var vb = 0.0
        for i in a.indices where a[i].isFinite && b[i].isFinite {
            cov += (a[i] - ma) * (b[i] - mb)
            va += (a[i] - ma) * (a[i] - ma)
            vb += (b[i] - mb) * (b[i] - mb)
        }
        return va > 0 && vb > 0 ? cov / (va * vb).squareRoot() : .nan
    }

    /// Returns per calendar month in percent, by year (first month against the starting equity).
    static func monthlyReturns(_ r: BacktestResult) -> ([Int], [[Double?]]) {
        var lastOfMonth: [(year: Int, month: Int, equity: Double)] = []
        for (i, e) in r.equity.enumerated() {
            let d = CivilCalendar.date(fromDays: Timestamp(nanoseconds: r.timestamps[i]).daysSinceEpoch)
            if let last = lastOfMonth.last, last.year == d.year, last.month == d.month {
                lastOfMonth[lastOfMonth.count - 1].equity = e
            } else {
                lastOfMonth.append((d.year, d.month, e))
            }
        }
        guard let firstYear = lastOfMonth.first?.year, let lastYear = lastOfMonth.last?.year else { return ([], []) }
        let years = Array(firstYear...lastYear)
        var cells = [[Double?]](repeating: [Double?](repeating: nil, count: 12), count: years.count)
        var previous = r.equity.first ?? 1
        for m in lastOfMonth {
            cells[m.year - firstYear][m.month - 1] = (m.equity / previous - 1) * 100
            previous = m.equity
        }
        return (years, cells)
    }

    /// A window of about a quarter and the bars per year, from the data's spacing.
    static func rollingWindow(_ r: BacktestResult) -> (Int, Double) {
        let period = Double(BacktestStatistics.dataPeriod(r.timestamps)) / 1e9
        guard period > 0 else { return (20, 252) }
        let perYear = period >= 86_400 ? 252 / (period / 86_400) : 252 * 86_400 / period
        return (max(20, Int(perYear / 4)), perYear)
    }

    /// Annualised Sharpe of bar returns over a trailing window (NaN until full or when flat).
    static func rollingSharpe(_ equity: [Double], window: Int, perYear: Double) -> [Double] {
        var out = [Double](repeating: .nan, count: equity.count)
        guard equity.count > window + 1 else { return out }
        let r = (1..<equity.count).map { equity[$0] / equity[$0 - 1] - 1 }
        var sum = 0.0
        var sum2 = 0.0
        for i in 0..<r.count {
            sum += r[i]
            sum2 += r[i] * r[i]
            if i >= window {
                sum -= r[i - window]
                sum2 -= r[i - window] * r[i - window]
            }
            if i >= window - 1 {
                let mean = sum / Double(window)
                let variance = max(0, sum2 / Double(window) - mean * mean)
                out[i + 1] = variance > 1e-18 ? mean / variance.squareRoot() * perYear.squareRoot() : .nan
            }
        }
        return out
    }

    /// Writes the report to `path`.
    /// - Throws: Foundation's error when the file cannot be written.
    /// The most trades the price chart marks (two markers each).
    public static let maxMarkedTrades = 250

    /// The indices of the trades the price chart marks: all, or `maxMarkedTrades` evenly spaced.
    static func markedTrades(_ count: Int) -> [Int] {
        guard count > maxMarkedTrades else { return Array(0..<count) }
        return (0..<maxMarkedTrades).map { $0 * (count - 1) / (maxMarkedTrades - 1) }
    }

    public static func write(_ result: BacktestResult, configuration: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try render(result, configuration: configuration).write(to: url, atomically: true, encoding: .utf8)
    }
}
