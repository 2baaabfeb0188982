import CrocCore
import Foundation
import Testing

@testable import CrocPipelines

@Suite("HTML reports")
struct HTMLReportTests {
    @Test("the backtest report is one self-contained page with every chart, the statistics and the config")
    func backtestReport() throws {
        let result = try defaultBacktest()
        let html = BacktestHTMLReport.render(result, configuration: "strategy: sma_cross")
        for id in BacktestHTMLReport.chartIDs { #expect(html.contains("data-chart=\"\(id)\""), "missing \(id)") }
        #expect(html.components(separatedBy: "<svg").count - 1 == BacktestHTMLReport.chartIDs.count)
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script src"))  // no network
        #expect(html.components(separatedBy: "<script>").count - 1 == 1)  // one inline script: the charts' zoom, pan and hover
        #expect(html.contains("name=\"viewport\""))  // phone-readable
        #expect(html.contains("18090.536482"))  // the statistics table
        #expect(html.contains("strategy: sma_cross"))
        #expect(html.components(separatedBy: "class=\"marker\"").count - 1 == 2 * result.trades.count)  // an entry and an exit per trade
        #expect(html.hasSuffix("</html>"))
    }

    @Test("axis labels are printf's text (%.1fM, %.0fk, %.0f, %.2f, %.3g) for values across every range and sign")
    func axisLabelsArePrintfText() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 1, -1, 100, 99.995, 9_999.5, 10_000, 999_999.5, 1e6, 2.5e6, -3.45e7, 0.5, 0.00012, 1e-9]
        for _ in 0..<5_000 { values.append(Double.random(in: -1...1, using: &rng) * pow(10, Double.random(in: -6...9, using: &rng))) }
        for v in values {
            let a = abs(v)
            let expected =
                a >= 1e6
                ? String(format: "%.1fM", v / 1e6)
                : a >= 1e4
                    ? String(format: "%.0fk", v / 1e3)
                    : a >= 100 ? String(format: "%.0f", v) : a >= 1 ? String(format: "%.2f", v) : String(format: "%.3g", v)
            #expect(SVG.label(v) == expected, "\(v)")
        }
    }

    @Test("line charts carry their drawn points as JSON the page's script reads: x labels per point, markers movable, labels escaped")
    func interactiveChartData() throws {
        let points = (0..<50).map { (x: Double($0), y: $0 == 7 ? Double.nan : Double($0) * 1.5) }
        let chart = SVG.lineChart(
            id: "t",
            title: "t",
            series: [.init(points: points, color: "#123456", label: "a</script>\"b"), .init(points: [(x: 3, y: 2)], color: "#000", label: "c")],
            markers: [.init(x: 10, y: 15, up: true, color: "#0f0", title: "m")],
            xLabel: { Int($0) == 3 ? "<\"3\"\\\n" : "day \(Int($0))" }  // one label to escape
        )
        #expect(chart.contains("<figure class=\"ix\" data-chart=\"t\">"))
        #expect(SVG.widen(chart).hasPrefix("<figure class=\"ix wide\" data-chart=\"t\">"))  // a full-width chart stays interactive
        let open = try #require(chart.range(of: "<script type=\"application/json\" class=\"chart-data\">"))
        let close = try #require(chart.range(of: "</script>", range: open.upperBound..<chart.endIndex))
        let text = String(chart[open.upperBound..<close.lowerBound])
        #expect(!text.contains("<"))  // a label can never end the script element early
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["x0"] as? Double == 0 && json["x1"] as? Double == 49)
        let series = try #require(json["s"] as? [[String: Any]])
        #expect(series.count == 2)
        #expect(series[0]["n"] as? String == "a</script>\"b")
        let xs = try #require(series[0]["x"] as? [Double])
        let ys = try #require(series[0]["y"] as? [Double])
        let labels = try #require(series[0]["xt"] as? [String])
        #expect(xs.count == 49 && ys.count == 49 && labels.count == 49)  // the NaN point is not drawn
        #expect(!xs.contains(7) && ys[10] == 16.5 && labels[10] == "day 11" && labels[3] == "<\"3\"\\\n")
        #expect(series[1]["xt"] == nil)
        // A marker is drawn about the origin and placed by its transform (the script moves it on zoom).
        #expect(chart.contains("class=\"marker\" data-x=\"") && chart.contains("d=\"M0,-6L-5,3L5,3Z\""))
        // The page inlines the script only when a chart needs it.
        #expect(SVG.page(title: "p", subtitle: "", sections: [chart]).contains("<script>\n(function () {"))
        #expect(!SVG.page(title: "p", subtitle: "", sections: [SVG.table("x", rows: [])]).contains("<script>"))
    }

    @Test("monthly returns chain from the starting equity; rolling Sharpe is NaN until its window fills")
    func helpers() throws {
        let day: Int64 = 86_400_000_000_000
        let jan1 = Timestamp(year: 2020, month: 1, day: 1)!.nanoseconds
        let times = [jan1, jan1 + 10 * day, jan1 + 40 * day, jan1 + 70 * day]  // Jan, Jan, Feb, Mar
        var result = try defaultBacktest()
        result.timestamps = times
        result.equity = [100, 110, 99, 108.9]
        result.closes = [1, 1, 1, 1]
        let (years, cells) = BacktestHTMLReport.monthlyReturns(result)
        #expect(years == [2020])
        #expect(abs(cells[0][0]! - 10) < 1e-9)
        #expect(abs(cells[0][1]! + 10) < 1e-9)
        #expect(abs(cells[0][2]! - 10) < 1e-9)
        #expect(cells[0][3] == nil)
        let s = BacktestHTMLReport.rollingSharpe([100, 101, 102, 101, 103, 104], window: 3, perYear: 252)
        #expect(s[0].isNaN && s[1].isNaN && s[2].isNaN && !s[3].isNaN)
    }

    @Test("SVG helpers escape text and keep spikes when downsampling")
    func svg() {
        #expect(SVG.escape("a<b & \"c\"") == "a&lt;b &amp; &quot;c&quot;")
        #expect(SVG.escape("Zürich > 1 €") == "Zürich &gt; 1 €" && SVG.escape("plain 1.5%") == "plain 1.5%" && SVG.escape("") == "")
        #expect(SVG.escape("&amp;") == "&amp;amp;")  // escaped once, not undone
        // Widening = Foundation's two replacements in a row, on figures of both kinds and text around them.
        let html = "x<figure data-chart=\"a\">1</figure>é<figure class=\"ix\" data-chart=\"b\"><figure data-char"
        let foundation = html.replacingOccurrences(of: "<figure class=\"ix\" data-chart", with: "<figure class=\"ix wide\" data-chart")
            .replacingOccurrences(of: "<figure data-chart", with: "<figure class=\"wide\" data-chart")
        #expect(SVG.widen(html) == foundation && foundation != html)
        var points = (0..<10_000).map { (x: Double($0), y: 0.0) }
        points[5_000].y = 99
        let d = SVG.downsample(points, limit: 400)
        #expect(d.count <= 400 && d.contains { $0.y == 99 })
        #expect(SVG.ticks(0, 100) == [0, 20, 40, 60, 80, 100])
    }

    @Test("downsampling without copying gives the points filtering then downsampling gives (NaN gaps, ties, short series)")
    func downsampleSkippingNaN() {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 7, 1_600, 1_601, 3_333, 50_000] {
            let points = (0..<count).map { i -> (x: Double, y: Double) in
                let r = Int.random(in: 0..<10, using: &rng)
                return (Double(i), r == 0 ? .nan : Double(Int.random(in: 0..<5, using: &rng)))  // many ties
            }
            for limit in [400, 1_600] {
                let a = SVG.downsample(skippingNaN: points, limit: limit)
                let b = SVG.downsample(points.filter { !$0.y.isNaN }, limit: limit)
                #expect(a.count == b.count, "\(count) \(limit)")
                #expect(zip(a, b).allSatisfy { $0.x == $1.x && $0.y == $1.y }, "\(count) \(limit)")
                // A series of values (x = index) keeps the array, not points: the same sample.
                let values = SVG.Series(values: points.map(\.y), color: "#000", label: "v")
                let c = SVG.downsample(skippingNaN: values, limit: limit)
                #expect(c.count == b.count && zip(c, b).allSatisfy { $0.x == $1.x && $0.y == $1.y }, "values \(count) \(limit)")
                #expect(values.points.count == count && zip(values.points, points).allSatisfy { $0.x == $1.x && $0.y.bitPattern == $1.y.bitPattern })
            }
            // The same chart, byte for byte, from values or from their (index, value) points.
            let ys = points.map(\.y)
            func chart(_ series: SVG.Series) -> String {
                SVG.lineChart(id: "c", title: "t", series: [series], xLabel: { String($0) }, zeroLine: true)
            }
            #expect(
                chart(.init(values: ys, color: "#111", label: "a", area: true)) == chart(.init(points: points, color: "#111", label: "a", area: true))
            )
        }
    }
}
