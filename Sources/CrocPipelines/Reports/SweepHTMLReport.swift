import CrocCore
import CrocSupport
import Foundation

/// The sweep report: best trials, the objective over two parameters, the
/// overfitting diagnostics and (for walk-forward runs) the stitched
/// out-of-sample equity; one self-contained HTML file like the backtest report.
public enum SweepHTMLReport {
    /// Diagnostics over a sweep's feasible trials.
    public struct Diagnostics: Sendable {
        /// The deflated Sharpe ratio of the best trial.
        public var deflated: Overfitting.DeflatedSharpe?
        /// The probability of backtest overfitting.
        public var pbo: Overfitting.PBO?

        /// Computes both from the trials (best = highest objective).
        public init(trials: [TrialResult]) { self.init(ranked: trials.ranked()) }

        /// Computes both from the feasible trials, best first (`ranked()`).
        public init(ranked: [TrialResult]) {
            let sharpes = ranked.map { $0.blocks.reduce(ReturnMoments(), +).sharpe }
            deflated = ranked.first.flatMap { Overfitting.deflatedSharpe(selected: $0.blocks.reduce(ReturnMoments(), +), trialSharpes: sharpes) }
            // CSCV over at most 2,000 trials (the best by objective): the split count, not N, sets the resolution.
            pbo = Overfitting.pbo(ranked.prefix(2_000).map(\.blocks))
        }
    }

    /// Renders the report.
    /// - Parameters:
    ///   - spec: The sweep.
    ///   - trials: All its trials (all shards).
    ///   - walkForward: The walk-forward outcome, if one ran.
    ///   - heatmap: The two parameters of the heatmap (default: the first two swept numbers).
    ///   - diagnostics: The overfitting diagnostics, when the caller already computed them.
    public static func render(
        spec: SweepSpec,
        trials: [TrialResult],
        walkForward: WalkForwardOutcome? = nil,
        heatmap: (String, String)? = nil,
        diagnostics given: Diagnostics? = nil
    ) -> String {
        let ranked = trials.ranked()
        let diagnostics = given ?? Diagnostics(ranked: ranked)
        var sections: [String] = []
        let best = ranked.first
        var summary: [(String, String)] = [
            ("Sweep", spec.name), ("Strategy", spec.strategy),
            (
                "Data",
                spec.universe.map { "universe \($0.universe ?? "")" + ($0.symbols.map { " (\($0))" } ?? "") }
                    ?? spec.data.map(\.path).joined(separator: ", ")
            ),
            ("Sampler", spec.sampler.rawValue + (spec.sampler == .grid ? "" : " (seed \(spec.seed))")),
            ("Trials recorded / planned", "\(trials.count) / \(spec.plannedTrials)"), ("Feasible", "\(ranked.count)"),
            ("Objective", spec.objective.description),
        ]
        if let best {
            summary.append(("Best objective", String(format: "%.4f", best.objective!)))
            summary.append(("Best parameters", describe(best.parameters, spec)))
        }
        if let d = diagnostics.deflated {
            summary.append(("Deflated Sharpe (P[SR > 0])", String(format: "%.3f", d.probability)))
            summary.append(
                (
                    "Best per-bar Sharpe vs E[max] of \(d.trials) trials",
                    String(format: "%.4f vs %.4f (%d returns)", d.sharpe, d.benchmark, d.observations)
                )
            )
        }
        if let p = diagnostics.pbo {
            summary.append(
                ("Probability of backtest overfitting", String(format: "%.3f (%d CSCV splits, %d blocks)", p.probability, p.splits, spec.blocks))
            )
        }
        let seconds = trials.map(\.seconds)
        if !seconds.isEmpty {
            summary.append(("CPU time per trial (mean)", String(format: "%.1f ms", seconds.reduce(0, +) / Double(seconds.count) * 1000)))
        }
        sections.append(SVG.table("Summary", rows: summary))

        // Best trials.
        let names = spec.space.dimensions.map(\.name)
        var table = "<section class=\"wide\"><h2>Best trials</h2><table data-table=\"best-trials\"><tr><td>#</td><td>trial</td>"
        table += names.map { "<td>\(SVG.escape($0))</td>" }.joined()
        table += "<td>objective</td><td>Sharpe</td><td>return %</td><td>max DD %</td><td>trades</td></tr>"
        for (rank, t) in ranked.prefix(20).enumerated() {
            table += "<tr><td>\(rank + 1)</td><td>\(t.index)</td>"
            table += names.map { "<td>\(SVG.escape(t.parameters[$0].map(short) ?? ""))</td>" }.joined()
            table += [t.objective!, t.metrics["sharpe"] ?? .nan, t.metrics["return"] ?? .nan, t.metrics["maxDrawdownPct"] ?? .nan]
                .map { "<td>\(String(format: "%.3f", $0))</td>" }.joined()
            table += "<td>\(Int(t.metrics["trades"] ?? 0))</td></tr>"
        }
        sections.append(table + "</table></section>")

        // Heatmap of the objective over two parameters.
        let numeric = spec.space.dimensions.filter { if case .choice = $0.domain { false } else { true } }.map(\.name)
        if let (a, b) = heatmap ?? (numeric.count >= 2 ? (numeric[0], numeric[1]) : nil) {
            sections.append(objectiveHeatmap(trials: trials, x: a, y: b))
        }
        sections.append(SVG.histogram(id: "objective-histogram", title: "Objective over feasible trials", values: ranked.map { $0.objective! }))
        if let p = diagnostics.pbo {
            sections.append(
                SVG.histogram(id: "pbo-logits", title: "CSCV: logit of the in-sample best's out-of-sample rank (≤ 0: overfit)", values: p.logits)
            )
        }
        if let wf = walkForward {
            let points = wf.equity.enumerated().map { (x: Double($0.offset), y: $0.element) }
            let ts = wf.timestamps
            sections.append(
                SVG.lineChart(
                    id: "oos-equity",
                    title: "Walk-forward: stitched out-of-sample equity (\(wf.steps.count) windows, \(wf.trades) trades)",
                    series: [SVG.Series(points: points, color: "#2b6cb0", label: "out-of-sample equity")],
                    xLabel: { i in ts.isEmpty ? "" : String(Timestamp(nanoseconds: ts[min(ts.count - 1, max(0, Int(i)))]).description.prefix(10)) }
                ).widened
            )
            var w =
                "<section class=\"wide\"><h2>Walk-forward windows</h2><table data-table=\"walk-forward\"><tr><td>window</td><td>in-sample</td><td>out-of-sample</td><td>chosen</td><td>IS objective</td><td>OOS return %</td><td>OOS trades</td></tr>"
            for (k, s) in wf.steps.enumerated() {
                w +=
                    "<tr><td>\(k)</td><td>\(s.inSample.lowerBound)–\(s.inSample.upperBound - 1)</td><td>\(s.outOfSample.lowerBound)–\(s.outOfSample.upperBound - 1)</td>"
                w += "<td>\(SVG.escape(s.chosen.map { describe($0.parameters, spec) } ?? "none feasible"))</td>"
                w += "<td>\(s.chosen.map { String(format: "%.3f", $0.objective!) } ?? "–")</td>"
                w +=
                    "<td>\(String(format: "%.2f", s.outOfSampleMetrics["return"] ?? 0))</td><td>\(Int(s.outOfSampleMetrics["trades"] ?? 0))</td></tr>"
            }
            sections.append(w + "</table></section>")
            let st = wf.statistics
            sections.append(
                SVG.table(
                    "Out-of-sample statistics",
                    rows: [
                        ("Return [%]", String(format: "%.2f", st.returnPct)), ("Sharpe Ratio", String(format: "%.3f", st.sharpeRatio)),
                        ("Max. Drawdown [%]", String(format: "%.2f", st.maxDrawdownPct)),
                        ("Buy & Hold Return [%]", String(format: "%.2f", st.buyAndHoldReturnPct)),
                    ]
                )
            )
        }
        sections.append(SVG.text("Configuration", spec.canonical))
        return SVG.page(
            title: "Sweep \(spec.name): \(spec.strategy)",
            subtitle: "\(trials.count) trials, objective \(spec.objective)" + (walkForward == nil ? "" : ", walk-forward"),
            sections: sections
        )
    }

    static func short(_ v: ConfigValue) -> String {
        switch v {
        case .double(let d): return String(format: "%g", d)
        case .string(let s): return s
        default: return "\(v)"
        }
    }

    static func describe(_ p: [String: ConfigValue], _ spec: SweepSpec) -> String {
        spec.space.dimensions.map { "\($0.name)=\(p[$0.name].map(short) ?? "?")" }.joined(separator: " ")
    }

    /// The best objective in each (x, y) cell: grid values as they are, continuous ones in 20 bins.
    static func objectiveHeatmap(trials: [TrialResult], x: String, y: String) -> String {
        func axis(_ name: String) -> (labels: [String], index: (Double) -> Int)? {
            let values = Set(trials.compactMap { $0.parameters[name]?.doubleValue })
            guard !values.isEmpty else { return nil }
            if values.count <= 120 {
                let sorted = values.sorted()
                let position = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($0.element, $0.offset) })
                return (sorted.map { String(format: "%g", $0) }, { position[$0] ?? 0 })
            }
            let lo = values.min()!
            let hi = values.max()!
            let bins = 20
            let span = hi > lo ? hi - lo : 1
            return (
                (0..<bins).map { String(format: "%.3g", lo + (Double($0) + 0.5) * span / Double(bins)) },
                { min(bins - 1, Int(($0 - lo) / span * Double(bins))) }
            )
        }
        guard let ax = axis(x), let ay = axis(y) else { return "" }
        var cells = [[Double?]](repeating: [Double?](repeating: nil, count: ax.labels.count), count: ay.labels.count)
        for t in trials {
            guard let o = t.objective, let vx = t.parameters[x]?.doubleValue, let vy = t.parameters[y]?.doubleValue else { continue }
            let (i, j) = (ay.index(vy), ax.index(vx))
            cells[i][j] = max(cells[i][j] ?? -.infinity, o)
        }
        let values = cells.flatMap { $0.compactMap { $0 } }
        guard let lo = values.min(), let hi = values.max() else { return "" }
        let cols = Double(ax.labels.count)
        let rows = Double(ay.labels.count)
        let w = 760.0
        let left = 44.0
        let cw = (w - left) / cols
        let ch = max(3, min(24, 420 / rows))
        let h = 22 + ch * rows + 24
        var s =
            "<figure class=\"wide\" data-chart=\"objective-heatmap\"><figcaption>\(SVG.escape("Objective by \(x) (across) and \(y) (down); blank: infeasible or not tried"))</figcaption>"
        s += "<svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"objective heatmap\">"
        for (i, row) in cells.enumerated() {
            for (j, v) in row.enumerated() {
                guard let v else { continue }
                let a = hi > lo ? (v - lo) / (hi - lo) : 1
                // Low: red; high: green.
                let color = String(format: "rgb(%d,%d,%d)", Int(217 - a * 171), Int(83 + a * 74), Int(79 + a * 12))
                s +=
                    "<rect x=\"\(SVG.f(left + Double(j) * cw))\" y=\"\(SVG.f(22 + Double(i) * ch))\" width=\"\(SVG.f(cw + 0.3))\" height=\"\(SVG.f(ch + 0.3))\" fill=\"\(color)\"><title>\(x)=\(ax.labels[j]) \(y)=\(ay.labels[i]): \(String(format: "%.4f", v))</title></rect>"
            }
        }
        for k in stride(from: 0, to: ax.labels.count, by: max(1, ax.labels.count / 8)) {
            s +=
                "<text class=\"tick\" x=\"\(SVG.f(left + (Double(k) + 0.5) * cw))\" y=\"16\" text-anchor=\"middle\">\(SVG.escape(ax.labels[k]))</text>"
        }
        for k in stride(from: 0, to: ay.labels.count, by: max(1, ay.labels.count / 10)) {
            s +=
                "<text class=\"tick\" x=\"\(SVG.f(left - 4))\" y=\"\(SVG.f(22 + (Double(k) + 0.5) * ch + 4))\" text-anchor=\"end\">\(SVG.escape(ay.labels[k]))</text>"
        }
        s += "<text class=\"tick\" x=\"\(SVG.f(left))\" y=\"\(SVG.f(h - 6))\">\(SVG.escape(String(format: "low %.3f", lo)))</text>"
        s += "<text class=\"tick\" x=\"\(SVG.f(w))\" y=\"\(SVG.f(h - 6))\" text-anchor=\"end\">\(SVG.escape(String(format: "high %.3f", hi)))</text>"
        return s + "</svg></figure>"
    }
}
