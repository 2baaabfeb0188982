import CrocCore
import CrocSupport
import Foundation

/// The self-contained HTML report of a backtest: inline SVG charts, the
/// statistics table and the run's configuration. No scripts, no network.
public enum BacktestHTMLReport {
    /// The chart ids every report contains (tests and the Chromium check look for them).
    public static let chartIDs = ["price", "equity", "drawdown", "monthly", "trades", "rolling-sharpe"]

    /// Renders the report.
    /// - Parameters:
    ///   - result: The backtest.
    ///   - configuration: The run's settings as text (shown verbatim).
    public static func render(_ result: BacktestResult, configuration: String) -> String {
        let t = result.timestamps
        let n = result.equity.count
        func date(_ x: Double) -> String {
            let i = min(max(0, Int(x.rounded())), n - 1)
            return String(Timestamp(nanoseconds: t[i]).iso8601().prefix(10))
        }
        /// `(index, value)` points, built as the labelled tuples charts take (no second, cast copy).
        func indexed(_ values: [Double]) -> [(x: Double, y: Double)] {
            var out: [(x: Double, y: Double)] = []
            out.reserveCapacity(values.count)
            for (i, v) in values.enumerated() { out.append((x: Double(i), y: v)) }
            return out
        }
        // 1. Price with entries and exits: every trade up to `maxMarkedTrades`, else an evenly
        // spaced sample of them (a 900-pixel chart cannot show more; the caption says how many).
        var markers: [SVG.Marker] = []
        let marked = markedTrades(result.trades.count)
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
        let price = SVG.lineChart(
            id: "price",
            title: marked.count == result.trades.count
                ? "\(result.instrument.symbol) close with trades"
                : "\(result.instrument.symbol) close with \(marked.count) of \(result.trades.count) trades marked (evenly spaced)",
            series: [.init(points: indexed(result.closes), color: "#3366cc", label: "close")],
            markers: markers,
            xLabel: date
        )
        // 2. Equity against buy & hold from the first tradable bar.
        let start = min(max(0, result.warmupBars), n - 1)
        let initial = result.equity.first ?? 0
        let hold = (0..<n).map { i in (x: Double(i), y: i < start ? initial : initial * result.closes[i] / result.closes[start]) }
        let equity = SVG.lineChart(
            id: "equity",
            title: "Equity vs buy & hold",
            series: [
                .init(points: indexed(result.equity), color: "#3366cc", label: "strategy"),
                .init(points: hold, color: "#999999", label: "buy & hold"),
            ],
            xLabel: date
        )
        // 3. Underwater.
        var peak = -Double.infinity
        let dd = result.equity.enumerated().map { i, e -> (x: Double, y: Double) in
            peak = max(peak, e)
            return (Double(i), (e / peak - 1) * 100)
        }
        let drawdown = SVG.lineChart(
            id: "drawdown",
            title: "Drawdown (%)",
            series: [.init(points: dd, color: "#d9534f", label: "drawdown", area: true)],
            xLabel: date,
            yFormat: { String(format: "%.0f%%", $0) },
            zeroLine: true
        )
        // 4. Monthly returns.
        let (years, cells) = monthlyReturns(result)
        let monthly = SVG.monthlyHeatmap(id: "monthly", title: "Monthly returns (%)", years: years, values: cells)
        // 5. Trade returns.
        let trades = SVG.histogram(
            id: "trades",
            title: "Trade returns (%), \(result.trades.count) trades",
            values: result.trades.map { $0.returnFraction * 100 },
            format: { String(format: "%.1f%%", $0) }
        )
        // 6. Rolling Sharpe.
        let (window, perYear) = rollingWindow(result)
        let sharpe = SVG.lineChart(
            id: "rolling-sharpe",
            title: "Rolling Sharpe (\(window) bars, annualised)",
            series: [
                .init(
                    points: indexed(rollingSharpe(result.equity, window: window, perYear: perYear)),
                    color: "#8e44ad",
                    label: "Sharpe"
                )
            ],
            xLabel: date,
            yFormat: { String(format: "%.1f", $0) },
            zeroLine: true
        )
        let stats = SVG.table(
            "Statistics",
            rows: [("Strategy", result.strategyName), ("Symbol", result.instrument.symbol)] + BacktestReport.rows(result.statistics)
        )
        let config = SVG.text("Configuration", configuration)
        let s = result.statistics
        let subtitle =
            "\(result.strategyName) on \(result.instrument.symbol), \(s.start.iso8601()) to \(s.end.iso8601()): return \(String(format: "%.2f", s.returnPct))%, Sharpe \(String(format: "%.2f", s.sharpeRatio)), max drawdown \(String(format: "%.2f", s.maxDrawdownPct))%, \(s.tradeCount) trades"
        let wide = { (html: String) in html.replacingOccurrences(of: "<figure data-chart", with: "<figure class=\"wide\" data-chart") }
        return SVG.page(
            title: "CrocBot backtest: \(result.strategyName)",
            subtitle: subtitle,
            sections: [wide(price), equity, drawdown, wide(monthly), trades, sharpe, stats, config]
        )
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
