import CrocCore
import Foundation

/// Text and CSV renderings of a backtest result.
public enum BacktestReport {
    /// The statistics as `(label, value)` rows, in backtesting.py's order and spelling.
    public static func rows(_ s: BacktestStatistics) -> [(String, String)] {
        func num(_ x: Double, _ digits: Int = 6) -> String {
            if x.isNaN { return "NaN" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            return String(format: "%.\(digits)f", x)
        }
        func dur(_ seconds: Double) -> String {
            guard seconds.isFinite else { return "NaN" }
            let total = Int64(seconds.rounded())
            let days = total / 86400
            let rem = total % 86400
            return String(format: "%lld days %02lld:%02lld:%02lld", days, rem / 3600, rem % 3600 / 60, rem % 60)
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
        rows += Self.rows(result.statistics)
        let lw = rows.map { $0.0.count }.max() ?? 0
        let vw = rows.map { $0.1.count }.max() ?? 0
        return rows.map { label, value in
            label.padding(toLength: lw, withPad: " ", startingAt: 0) + "  " + String(repeating: " ", count: vw - value.count) + value
        }.joined(separator: "\n")
    }

    /// The trades as CSV (backtesting.py's column names).
    public static func tradesCSV(_ result: BacktestResult) -> String {
        var out = "Size,EntryBar,ExitBar,EntryPrice,ExitPrice,PnL,ReturnPct,Commission,EntryTime,ExitTime,Duration,Tag\n"
        for t in result.trades {
            let fields = [
                t.quantity.description, String(t.entryBar), String(t.exitBar), t.entryPrice.description, t.exitPrice.description,
                t.pnl.description, String(t.returnFraction), t.commission.description, t.entryTime.iso8601(), t.exitTime.iso8601(),
                String(t.duration / 1_000_000_000), t.tag ?? "",
            ]
            out += fields.joined(separator: ",") + "\n"
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
        var out: [UInt8] = Array("Time,Equity,DrawdownPct\n".utf8)
        out.reserveCapacity(32 + result.equity.count * 48)
        var peak = -Double.infinity
        result.equity.withUnsafeBufferPointer { equity in
            result.timestamps.withUnsafeBufferPointer { times in
                for i in 0..<equity.count {
                    let e = equity[i]
                    peak = max(peak, e)
                    ByteText.appendISO8601(Timestamp(nanoseconds: times[i]), to: &out)
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

    /// Writes `trades.csv` and `equity.csv` into `directory`, creating it.
    /// - Returns: The two file paths.
    /// - Throws: Foundation's error when the directory or files cannot be written.
    @discardableResult
    public static func write(_ result: BacktestResult, to directory: String) throws -> (trades: String, equity: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let trades = (directory as NSString).appendingPathComponent("trades.csv")
        let equity = (directory as NSString).appendingPathComponent("equity.csv")
        try tradesCSV(result).write(toFile: trades, atomically: true, encoding: .utf8)
        try Data(equityCSVBytes(result)).write(to: URL(fileURLWithPath: equity), options: .atomic)
        return (trades, equity)
    }
}
