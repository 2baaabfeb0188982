import CrocStrategies
import Foundation

/// The HTML report of an RL training run: episode returns and loss over the
/// training steps, and a table of the held-out comparison with buy & hold and a random
/// policy, in the style of the other reports.
public enum RLTrainingHTMLReport {
    /// Renders the report.
    /// - Parameters:
    ///   - result: The training run.
    ///   - progress: The progress reports, in order.
    ///   - configuration: The run's settings as text.
    public static func render(_ result: RLTrainingResult, progress: [RLTrainingProgress], configuration: String) -> String {
        let m = result.bundle.metadata
        var sections: [String] = []
        sections.append(
            SVG.lineChart(
                id: "episode-returns",
                title: "Mean episode return while training",
                series: [
                    .init(points: progress.map { (Double($0.steps), $0.meanEpisodeReturn) }, color: "#3366cc", label: "episode return")
                ],
                xLabel: { String(Int($0.rounded())) },
                yFormat: { String(format: "%.4f", $0) },
                zeroLine: true
            )
        )
        sections.append(
            SVG.lineChart(
                id: "rl-loss",
                title: m.agent == .ppo ? "Loss (policy + value)" : "Loss (Huber, TD error)",
                series: [.init(points: progress.map { (Double($0.steps), $0.loss) }, color: "#cc6633", label: "loss")],
                xLabel: { String(Int($0.rounded())) },
                yFormat: { String(format: "%.4g", $0) }
            )
        )
        let held: [(String, Double)] = [
            ("policy", result.testReturnPct), ("random policy", result.randomReturnPct), ("buy & hold", result.buyAndHoldPct),
        ]
        sections.append(
            SVG.table(
                "Run",
                rows: [
                    ("Agent", m.agent.rawValue), ("Symbol", m.symbol), ("Training range", m.trainingRange.joined(separator: " to ")),
                    ("Actions", result.bundle.environment.actions.rawValue), ("Window", "\(result.bundle.environment.window)"),
                    ("Steps/s (learning included)", String(format: "%.0f", result.stepsPerSecond)),
                ] + held.map { ("Held-out return, \($0.0) [%]", String(format: "%.4f", $0.1)) }
            )
        )
        sections.append(SVG.text("Configuration", configuration))
        let subtitle =
            "\(m.agent.rawValue) on \(m.symbol), held-out return \(String(format: "%+.2f", result.testReturnPct)) % vs buy & hold \(String(format: "%+.2f", result.buyAndHoldPct)) %"
        return SVG.page(title: "CrocBot RL training: \(m.name)", subtitle: subtitle, sections: sections)
    }
}
