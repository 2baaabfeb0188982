import CrocCore
import CrocData
import CrocModels
import Foundation

/// The HTML report of `crocbot evaluate`: a trained bundle on new data —
/// confusion matrix and ROC curve (classifiers) or predicted against actual
/// (regressors), feature importance, the metrics, and the backtest of the
/// bundle's strategy with its equity against buy & hold.
public enum EvaluationHTMLReport {
    /// Renders the report.
    /// - Parameters:
    ///   - bundle: The evaluated bundle.
    ///   - labels: The labels of the evaluated rows.
    ///   - predictions: The model's scores on those rows.
    ///   - metrics: The prediction metrics.
    ///   - backtest: The backtest of the bundle's strategy on the same data.
    ///   - configuration: The run's settings as text.
    public static func render(
        bundle b: ModelBundle,
        labels: [Double],
        predictions: [Double],
        metrics: [String: Double],
        backtest: BacktestResult,
        configuration: String
    ) -> String {
        var sections: [String] = []
        if b.metadata.task == .binaryClassification {
            sections.append(TrainingHTMLReport.confusionMatrix(labels: labels, predictions: predictions))
            sections.append(
                SVG.lineChart(
                    id: "roc",
                    title: String(format: "ROC curve (AUC %.3f)", metrics["auc"] ?? .nan),
                    series: [
                        .init(points: TrainingHTMLReport.rocCurve(labels: labels, predictions: predictions), color: "#3366cc", label: "model"),
                        .init(points: [(0, 0), (1, 1)], color: "#999999", label: "chance"),
                    ],
                    xLabel: { String(format: "%.1f", $0) },
                    yFormat: { String(format: "%.1f", $0) }
                )
            )
        } else {
            sections.append(
                SVG.lineChart(
                    id: "predictions",
                    title: "Predicted vs actual",
                    series: [
                        .init(points: labels.enumerated().map { (Double($0), $1) }, color: "#999999", label: "actual"),
                        .init(points: predictions.enumerated().map { (Double($0), $1) }, color: "#3366cc", label: "predicted"),
                    ],
                    xLabel: { String(Int($0.rounded())) }
                )
            )
        }
        let importance = TrainingHTMLReport.featureImportance(b)
        sections.append(
            TrainingHTMLReport.bars(
                id: "feature-importance",
                title: importance.title,
                names: b.features.features.flatMap(\.columnNames),
                values: importance.values
            )
        )
        sections.append(SVG.table("Metrics", rows: metrics.keys.sorted().map { ($0, String(format: "%.5f", metrics[$0]!)) }))
        let first = backtest.closes.first ?? 1
        let start = backtest.equity.first ?? 1
        sections.append(
            SVG.lineChart(
                id: "equity",
                title: "Backtest equity vs buy & hold",
                series: [
                    .init(points: backtest.equity.enumerated().map { (Double($0), $1) }, color: "#3366cc", label: "strategy"),
                    .init(points: backtest.closes.enumerated().map { (Double($0), start * $1 / first) }, color: "#999999", label: "buy & hold"),
                ],
                xLabel: { i in
                    let k = min(max(0, Int(i.rounded())), max(0, backtest.timestamps.count - 1))
                    return backtest.timestamps.isEmpty ? "" : String(Timestamp(nanoseconds: backtest.timestamps[k]).iso8601().prefix(10))
                }
            )
        )
        let s = backtest.statistics
        sections.append(backtestTable(s))
        sections.append(SVG.text("Configuration", configuration))
        let subtitle =
            "\(b.metadata.kind.rawValue) trained on \(b.metadata.trainingRange.joined(separator: " to ")), evaluated on \(backtest.instrument.symbol) \(s.start.iso8601().prefix(10)) to \(s.end.iso8601().prefix(10))"
        return SVG.page(title: "CrocBot evaluation: \(b.metadata.name)", subtitle: subtitle, sections: sections)
    }

    /// The backtest's range, return, Sharpe ratio, drawdown and trades as a table.
    static func backtestTable(_ s: BacktestStatistics) -> String {
        SVG.table(
            "Backtest",
            rows: [
                ("Range", "\(s.start.iso8601()) to \(s.end.iso8601())"), ("Return [%]", String(format: "%.4f", s.returnPct)),
                ("Sharpe Ratio", String(format: "%.4f", s.sharpeRatio)), ("Max. Drawdown [%]", String(format: "%.4f", s.maxDrawdownPct)),
                ("# Trades", "\(s.tradeCount)"),
            ]
        )
    }
}
