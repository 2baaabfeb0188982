import CrocCore
import CrocData
import CrocModels
import Foundation

/// The HTML report of a training run: learning curve, confusion matrix and
/// ROC curve on the test rows, feature importance, metrics and the test
/// backtest, in the style of the backtest report.
public enum TrainingHTMLReport {
    /// Renders the report.
    /// - Parameters:
    ///   - result: The training run.
    ///   - learningCurve: (step, training loss) as the learner reported it.
    ///   - configuration: The run's settings as text.
    public static func render(_ result: TrainingResult, learningCurve: [(step: Int, loss: Double)], configuration: String) -> String {
        let b = result.bundle
        var sections: [String] = []
        sections.append(
            SVG.lineChart(
                id: "learning-curve",
                title: "Learning curve (training loss)",
                series: [.init(points: learningCurve.map { (Double($0.step), $0.loss) }, color: "#3366cc", label: "loss")],
                xLabel: { String(Int($0.rounded())) },
                yFormat: { String(format: "%.3f", $0) }
            )
        )
        if b.metadata.task == .binaryClassification {
            sections.append(confusionMatrix(labels: result.testLabels, predictions: result.testPredictions))
            let roc = rocCurve(labels: result.testLabels, predictions: result.testPredictions)
            sections.append(
                SVG.lineChart(
                    id: "roc",
                    title: String(format: "ROC curve on the test rows (AUC %.3f)", result.metrics["test.auc"] ?? .nan),
                    series: [
                        .init(points: roc, color: "#3366cc", label: "model"), .init(points: [(0, 0), (1, 1)], color: "#999999", label: "chance"),
                    ],
                    xLabel: { String(format: "%.1f", $0) },
                    yFormat: { String(format: "%.1f", $0) }
                )
            )
        } else {
            sections.append(
                SVG.lineChart(
                    id: "predictions",
                    title: "Test rows: predicted vs actual",
                    series: [
                        .init(points: result.testLabels.enumerated().map { (Double($0), $1) }, color: "#999999", label: "actual"),
                        .init(points: result.testPredictions.enumerated().map { (Double($0), $1) }, color: "#3366cc", label: "predicted"),
                    ],
                    xLabel: { String(Int($0.rounded())) }
                )
            )
        }
        let importance = featureImportance(b)
        sections.append(
            bars(id: "feature-importance", title: importance.title, names: b.features.features.flatMap(\.columnNames), values: importance.values)
        )
        let metricRows = result.metrics.keys.sorted().map { ($0, String(format: "%.5f", result.metrics[$0]!)) }
        sections.append(SVG.table("Metrics", rows: metricRows))
        let s = result.testBacktest.statistics
        sections.append(
            SVG.table(
                "Test-range backtest",
                rows: [
                    ("Range", "\(s.start.iso8601()) to \(s.end.iso8601())"), ("Return [%]", String(format: "%.4f", s.returnPct)),
                    ("Buy & Hold Return [%]", String(format: "%.4f", result.testBuyAndHoldPct)),
                    ("Sharpe Ratio", String(format: "%.4f", s.sharpeRatio)),
                    ("Max. Drawdown [%]", String(format: "%.4f", s.maxDrawdownPct)), ("# Trades", "\(s.tradeCount)"),
                ]
            )
        )
        sections.append(SVG.text("Configuration", configuration))
        let subtitle =
            "\(b.metadata.kind.rawValue) on \(b.metadata.symbol), trained \(b.metadata.trainingRange.joined(separator: " to ")), test AUC \(String(format: "%.3f", result.metrics["test.auc"] ?? .nan))"
        return SVG.page(title: "CrocBot training: \(b.metadata.name)", subtitle: subtitle, sections: sections)
    }

    /// Importance per feature column, and what it measures.
    static func featureImportance(_ b: ModelBundle) -> (title: String, values: [Double]) {
        switch b.model {
        case let g as GradientBoostedTrees: return ("Feature importance (total split gain)", g.featureGain)
        case let l as LogisticRegression: return ("Feature importance (|coefficient| on scaled features)", l.coefficients.map(abs))
        case let r as RidgeRegression: return ("Feature importance (|coefficient| on scaled features)", r.coefficients.map(abs))
        case let m as MultilayerPerceptron:
            let first = m.layers[0]
            let v = (0..<first.inputs).map { j in (0..<first.outputs).reduce(0.0) { $0 + Double(abs(first.weights[$1 * first.inputs + j])) } }
            return ("Feature importance (first-layer weight magnitude)", v)
        default: return ("Feature importance (not available for this model)", [])
        }
    }

    /// True/false positive rates as the threshold falls.
    static func rocCurve(labels y: [Double], predictions p: [Double]) -> [(x: Double, y: Double)] {
        let positives = Double(y.filter { $0 == 1 }.count)
        let negatives = Double(y.count) - positives
        guard positives > 0, negatives > 0 else { return [] }
        var points: [(x: Double, y: Double)] = [(0, 0)]
        var tp = 0.0
        var fp = 0.0
        for i in p.indices.sorted(by: { p[$0] > p[$1] }) {
            if y[i] == 1 { tp += 1 } else { fp += 1 }
            points.append((fp / negatives, tp / positives))
        }
        return points
    }

    static func confusionMatrix(labels y: [Double], predictions p: [Double]) -> String {
        var m = [[0, 0], [0, 0]]  // [actual][predicted]
        for i in y.indices { m[Int(y[i])][p[i] > 0.5 ? 1 : 0] += 1 }
        let total = Double(max(1, y.count))
        var s =
            "<figure data-chart=\"confusion\"><figcaption>Confusion matrix, test rows (threshold 0.5)</figcaption><svg viewBox=\"0 0 420 230\" role=\"img\" aria-label=\"confusion matrix\">"
        s +=
            "<text class=\"tick\" x=\"250\" y=\"16\" text-anchor=\"middle\">predicted</text><text class=\"tick\" x=\"175\" y=\"36\" text-anchor=\"middle\">down (0)</text><text class=\"tick\" x=\"325\" y=\"36\" text-anchor=\"middle\">up (1)</text>"
        for a in 0..<2 {
            s += "<text class=\"tick\" x=\"92\" y=\"\(100 + a * 90)\" text-anchor=\"end\">actual \(a == 0 ? "down" : "up")</text>"
            for q in 0..<2 {
                let share = Double(m[a][q]) / total
                let color =
                    a == q ? "rgba(46,157,91,\(String(format: "%.2f", 0.2 + share)))" : "rgba(217,83,79,\(String(format: "%.2f", 0.2 + share)))"
                s += "<rect x=\"\(100 + q * 150)\" y=\"\(45 + a * 90)\" width=\"146\" height=\"86\" fill=\"\(color)\"/>"
                s +=
                    "<text class=\"cell\" style=\"font-size:18px\" x=\"\(175 + q * 150)\" y=\"\(95 + a * 90)\" text-anchor=\"middle\">\(m[a][q]) (\(String(format: "%.0f", share * 100))%)</text>"
            }
        }
        return s + "</svg></figure>"
    }

    static func bars(id: String, title: String, names: [String], values: [Double]) -> String {
        guard !values.isEmpty, values.count == names.count else {
            return "<figure data-chart=\"\(id)\"><figcaption>\(SVG.escape(title))</figcaption><p>Not available.</p></figure>"
        }
        let order = values.indices.sorted { values[$0] > values[$1] }
        let top = values.max() ?? 1
        let rowH = 18.0
        let h = 10 + rowH * Double(order.count)
        var s =
            "<figure data-chart=\"\(id)\"><figcaption>\(SVG.escape(title))</figcaption><svg viewBox=\"0 0 520 \(Int(h))\" role=\"img\" aria-label=\"\(SVG.escape(title))\">"
        for (k, j) in order.enumerated() {
            let y = 5 + rowH * Double(k)
            let w = top > 0 ? values[j] / top * 340 : 0
            s += "<text class=\"tick\" x=\"150\" y=\"\(SVG.f(y + 13))\" text-anchor=\"end\">\(SVG.escape(names[j]))</text>"
            s +=
                "<rect x=\"156\" y=\"\(SVG.f(y + 2))\" width=\"\(SVG.f(max(1, w)))\" height=\"\(SVG.f(rowH - 4))\" fill=\"#3366cc\"><title>\(String(format: "%.4g", values[j]))</title></rect>"
        }
        return s + "</svg></figure>"
    }
}
