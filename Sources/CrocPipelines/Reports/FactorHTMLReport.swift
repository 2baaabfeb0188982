import CrocCore
import CrocData
import CrocModels
import Foundation

/// The HTML report of a model on a universe (`crocbot train` with a universe,
/// `crocbot evaluate --universe`): the cumulative rank IC, the rank IC by
/// year, the quantiles' mean returns, the compounded long–short spread, the
/// metrics, feature importance, and the `model_topk` backtest's equity against
/// the equal-weight buy & hold. Self-contained (inline SVG, no scripts).
public enum FactorHTMLReport {
    /// Renders the report.
    /// - Parameters:
    ///   - bundle: The model.
    ///   - factor: The evaluation of its scores (the test range, or the evaluated data).
    ///   - metrics: Prediction and cross-sectional metrics by name.
    ///   - backtest: The `model_topk` backtest.
    ///   - configuration: The run's settings as text.
    public static func render(
        bundle b: ModelBundle,
        factor e: FactorEvaluation,
        metrics: [String: Double],
        backtest: BacktestResult,
        configuration: String
    ) -> String {
        func date(_ t: Int64) -> String { String(Timestamp(nanoseconds: t).iso8601().prefix(10)) }
        func dateLabel(_ times: [Int64]) -> (Double) -> String {
            { i in times.isEmpty ? "" : date(times[min(max(0, Int(i.rounded())), times.count - 1)]) }
        }
        var sections: [String] = []
        // Cumulative rank IC over the dates that have one.
        var cumulative: [(Double, Double)] = []
        var sum = 0.0
        for (t, v) in e.rankIC.enumerated() where v.isFinite {
            sum += v
            cumulative.append((Double(t), sum))
        }
        sections.append(
            SVG.lineChart(
                id: "cumulative-rank-ic",
                title: String(
                    format: "Cumulative rank IC (mean %.4f, ICIR %.3f over %d dates)",
                    e.rankICSummary.mean,
                    e.rankICSummary.ir,
                    e.rankICSummary.count
                ),
                series: [.init(points: cumulative, color: "#3366cc", label: "rank IC")],
                xLabel: dateLabel(e.times)
            )
        )
        sections.append(
            TrainingHTMLReport.bars(
                id: "rank-ic-by-year",
                title: "Mean rank IC by year",
                names: e.rankICByYear.map { String($0.year) },
                values: e.rankICByYear.map(\.mean)
            )
        )
        sections.append(
            TrainingHTMLReport.bars(
                id: "quantile-returns",
                title: "Mean demeaned forward return by score quantile, % (bottom first)",
                names: e.quantileMeanReturns.indices.map { "Q\($0 + 1)" },
                values: e.quantileMeanReturns.map { $0 * 100 }
            )
        )
        sections.append(
            SVG.lineChart(
                id: "spread",
                title: "Long-short spread (top minus bottom quantile), compounded over non-overlapping periods",
                series: [
                    .init(
                        points: e.cumulativeSpread.enumerated().filter { $0.element.isFinite }.map { (Double($0.offset), $0.element) },
                        color: "#cc6633",
                        label: "spread"
                    )
                ],
                xLabel: dateLabel(e.times)
            )
        )
        let importance = TrainingHTMLReport.featureImportance(b)
        sections.append(
            TrainingHTMLReport.bars(
                id: "feature-importance",
                title: importance.title,
                names: b.features.features.flatMap(\.columnNames),
                values: importance.values
            )
        )
        var rows = metrics.keys.sorted().map { ($0, String(format: "%.5f", metrics[$0]!)) }
        rows += [("top-k hit rate", String(format: "%.4f", e.topKHitRate)), ("top-k turnover", String(format: "%.4f", e.topKTurnover))]
        sections.append(SVG.table("Metrics", rows: rows))
        let index = backtest.closes  // a portfolio backtest's closes are its equal-weight index
        let start = backtest.equity.first ?? 1
        var series: [SVG.Series] = [
            .init(points: backtest.equity.enumerated().map { (Double($0), $1) }, color: "#3366cc", label: backtest.strategyName)
        ]
        if let first = index.first, first > 0 {
            series.append(
                .init(points: index.enumerated().map { (Double($0), start * $1 / first) }, color: "#999999", label: "equal-weight buy & hold")
            )
        }
        sections.append(SVG.lineChart(id: "equity", title: "model_topk backtest", series: series, xLabel: dateLabel(backtest.timestamps)))
        sections.append(EvaluationHTMLReport.backtestTable(backtest.statistics))
        sections.append(SVG.text("Configuration", configuration))
        let subtitle = "\(b.metadata.kind.rawValue) over \(b.metadata.symbol), trained on \(b.metadata.trainingRange.joined(separator: " to "))"
        return SVG.page(title: "CrocBot cross-sectional model: \(b.metadata.name)", subtitle: subtitle, sections: sections)
    }
}
