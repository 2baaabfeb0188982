import CrocCore
import CrocSupport
import Foundation

/// Minimal SVG charts for self-contained HTML reports: no network, no library, scaled by
/// `viewBox` so they fit a laptop or a phone. Line charts carry their drawn points as JSON, and
/// the page's one small inline script (`interactionScript`) adds what backtesting.py's Bokeh
/// plots offer: wheel zoom and drag pan along time, double-click to reset, and the values under
/// the pointer. Without scripts the charts are the same static pictures.
public enum SVG {
    /// A series of (x, y) points with a style.
    public struct Series {
        /// The x of each point; nil: x is the point's index (0, 1, 2, …).
        var xs: [Double]?
        /// The y of each point.
        var ys: [Double]
        /// Stroke colour (CSS).
        public var color: String
        /// Legend label.
        public var label: String
        /// Fill down to the baseline instead of a line.
        public var area: Bool = false

        /// Points; NaN y values break the line.
        public var points: [(x: Double, y: Double)] {
            get { ys.indices.map { i in (x: x(i), y: ys[i]) } }
            set {
                xs = newValue.map(\.x)
                ys = newValue.map(\.y)
            }
        }

        /// Creates a series.
        public init(points: [(x: Double, y: Double)], color: String, label: String, area: Bool = false) {
            self.xs = points.map(\.x)
            self.ys = points.map(\.y)
            self.color = color
            self.label = label
            self.area = area
        }

        /// A series of `values` at x = 0, 1, 2, … (a bar's index): the array is kept as it is,
        /// where (x, y) points would be a copy twice its size (32 MB for the equity of 1 M bars).
        public init(values: [Double], color: String, label: String, area: Bool = false) {
            self.xs = nil
            self.ys = values
            self.color = color
            self.label = label
            self.area = area
        }

        /// The x of point `i`.
        @inline(__always)
        func x(_ i: Int) -> Double { xs?[i] ?? Double(i) }

        /// Calls `body(x, y)` for each point in order, reading the arrays by pointer.
        @inline(__always)
        func forEachPoint(_ body: (Double, Double) -> Void) {
            ys.withUnsafeBufferPointer { ys in
                if let xs {
                    xs.withUnsafeBufferPointer { xs in for i in ys.indices { body(xs[i], ys[i]) } }
                } else {
                    for i in ys.indices { body(Double(i), ys[i]) }
                }
            }
        }
    }

    /// A marker drawn at a point (trade entries and exits).
    public struct Marker {
        /// Position.
        public var x: Double
        /// Position.
        public var y: Double
        /// Up (▲) or down (▼).
        public var up: Bool
        /// Fill colour.
        public var color: String
        /// Tooltip text.
        public var title: String

        /// Creates a marker.
        public init(x: Double, y: Double, up: Bool, color: String, title: String) {
            self.x = x
            self.y = y
            self.up = up
            self.color = color
            self.title = title
        }
    }

    static let width = 800.0
    static let height = 260.0
    static let left = 62.0
    static let right = 12.0
    static let top = 14.0
    static let bottom = 26.0

    /// `s` with `&`, `<`, `>` and `"` as HTML entities: one pass over its bytes, and `s` itself
    /// when it has none (labels and numbers, nearly always: Foundation's four replacements per
    /// string were 7 % of a 500-symbol portfolio command).
    static func escape(_ s: String) -> String {
        var s = s
        return s.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            for b in bytes {
                switch b {
                case 0x26: out.append(contentsOf: "&amp;".utf8)
                case 0x3C: out.append(contentsOf: "&lt;".utf8)
                case 0x3E: out.append(contentsOf: "&gt;".utf8)
                case 0x22: out.append(contentsOf: "&quot;".utf8)
                default: out.append(b)
                }
            }
            return String(decoding: out, as: UTF8.self)
        } ?? s
    }

    /// `text` with every occurrence of each pair's first string replaced by its second, in one
    /// left-to-right pass (at each position the first pair that matches wins; replacements are
    /// not scanned again). Patterns are non-empty.
    static func replacingAll(_ text: String, _ pairs: [(String, String)]) -> String {
        var text = text
        let patterns = pairs.map { (Array($0.0.utf8), Array($0.1.utf8)) }
        return text.withUTF8 { bytes in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 1024)
            var i = 0
            scan: while i < bytes.count {
                for (pattern, replacement) in patterns where bytes[i] == pattern[0] && i + pattern.count <= bytes.count {
                    if UnsafeBufferPointer(rebasing: bytes[i..<(i + pattern.count)]).elementsEqual(pattern) {
                        out.append(contentsOf: replacement)
                        i += pattern.count
                        continue scan
                    }
                }
                out.append(bytes[i])
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    static func f(_ v: Double) -> String { ByteText.fixed(v, decimals: 1) }  // %.1f exactly

    /// Keeps at most `limit` points, always including each bucket's extremes (so spikes survive).
    static func downsample(_ p: [(x: Double, y: Double)], limit: Int = 1600) -> [(x: Double, y: Double)] {
        guard p.count > limit else { return p }
        let bucket = Int((Double(p.count) / Double(limit / 2)).rounded(.up))
        var out: [(x: Double, y: Double)] = []
        var i = 0
        while i < p.count {
            let chunk = p[i..<min(p.count, i + bucket)].filter { !$0.y.isNaN }
            if let lo = chunk.min(by: { $0.y < $1.y }), let hi = chunk.max(by: { $0.y < $1.y }) {
                out += lo.x <= hi.x ? [lo, hi] : [hi, lo]
            }
            i += bucket
        }
        return out
    }

    /// `downsample(p.filter { !$0.y.isNaN })`, the same points, without copying `p`.
    static func downsample(skippingNaN p: [(x: Double, y: Double)], limit: Int = 1600) -> [(x: Double, y: Double)] {
        downsample(skippingNaN: Series(points: p, color: "", label: ""), limit: limit)
    }

    /// `downsample(series.points.filter { !$0.y.isNaN })`, the same points, read from the
    /// series' arrays (no (x, y) copy of them).
    static func downsample(skippingNaN series: Series, limit: Int = 1600) -> [(x: Double, y: Double)] {
        var count = 0
        series.ys.withUnsafeBufferPointer { ys in for y in ys where !y.isNaN { count += 1 } }
        var out: [(x: Double, y: Double)] = []
        guard count > limit else {
            out.reserveCapacity(count)
            series.forEachPoint { x, y in if !y.isNaN { out.append((x, y)) } }
            return out
        }
        let bucket = Int((Double(count) / Double(limit / 2)).rounded(.up))
        out.reserveCapacity(2 * (count / bucket + 1))
        var inBucket = 0
        var lo = (x: 0.0, y: 0.0)
        var hi = lo
        series.forEachPoint { x, y in
            guard !y.isNaN else { return }
            if inBucket == 0 {
                lo = (x, y)
                hi = (x, y)
            } else {
                if y < lo.y { lo = (x, y) }  // the first lowest, as min(by:)
                if y > hi.y { hi = (x, y) }  // the first highest, as max(by:)
            }
            inBucket += 1
            if inBucket == bucket {
                out += lo.x <= hi.x ? [lo, hi] : [hi, lo]
                inBucket = 0
            }
        }
        if inBucket > 0 { out += lo.x <= hi.x ? [lo, hi] : [hi, lo] }
        return out
    }

    /// "Nice" tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)  // no "-0.0" labels
            t += step
        }
        return out
    }

    /// Compact axis text for a number (`12k`, `1.5M`, `0.123`).
    public static func label(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return ByteText.fixed(v / 1e6, decimals: 1) + "M" }
        if a >= 1e4 { return ByteText.fixed(v / 1e3, decimals: 0) + "k" }
        if a >= 100 { return ByteText.fixed(v, decimals: 0) }
        if a >= 1 { return ByteText.fixed(v, decimals: 2) }
        return String(format: "%.3g", v)
    }

    /// A line/area chart with optional markers; `xLabels` maps x to axis text.
    public static func lineChart(
        id: String,
        title: String,
        series: [Series],
        markers: [Marker] = [],
        xLabel: (Double) -> String,
        yFormat: (Double) -> String = label,
        zeroLine: Bool = false
    ) -> String {
        // The bounds of the finite points, in one pass and without copying them.
        var (x0, x1, y0, y1) = (Double.infinity, -Double.infinity, Double.infinity, -Double.infinity)
        for ser in series {
            ser.forEachPoint { x, y in
                guard y.isFinite else { return }
                x0 = min(x0, x)
                x1 = max(x1, x)
                y0 = min(y0, y)
                y1 = max(y1, y)
            }
        }
        guard x0 <= x1 else {
            return "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><p>No data.</p></figure>"
        }
        for m in markers {
            y0 = min(y0, m.y)
            y1 = max(y1, m.y)
        }
        if zeroLine {
            y0 = min(y0, 0)
            y1 = max(y1, 0)
        }
        if y1 == y0 {
            y0 -= 1
            y1 += 1
        }
        let pad = (y1 - y0) * 0.05
        y0 -= pad
        y1 += pad
        let pw = width - left - right
        let ph = height - top - bottom
        func px(_ x: Double) -> Double { left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
        var s = "<figure class=\"ix\" data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption>"
        s += "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        s += "<defs><clipPath id=\"clip-\(id)\"><rect x=\"\(f(left))\" y=\"0\" width=\"\(f(pw))\" height=\"\(f(height))\"/></clipPath></defs>"
        for t in ticks(y0, y1) {
            s += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\"/>"
            s += "<text class=\"tick\" x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(escape(yFormat(t)))</text>"
        }
        for k in 0...4 {
            let x = x0 + (x1 - x0) * Double(k) / 4
            s +=
                "<text class=\"tick xt\" x=\"\(f(px(x)))\" y=\"\(f(height - 8))\" text-anchor=\"\(k == 0 ? "start" : (k == 4 ? "end" : "middle"))\">\(escape(xLabel(x)))</text>"
        }
        if zeroLine { s += "<line class=\"zero\" x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(py(0)))\" y2=\"\(f(py(0)))\"/>" }
        s += "<g class=\"plot\" clip-path=\"url(#clip-\(id))\"><g class=\"lines\">"
        var json = ChartJSON(x0: x0, x1: x1, left: left, width: pw)
        for ser in series {
            let pts = downsample(skippingNaN: ser)
            json.add(series: ser, points: pts, xLabel: xLabel)
            guard !pts.isEmpty else { continue }
            // The path's points written as bytes (`f`'s %.1f text, no string per number).
            var d: [UInt8] = []
            d.reserveCapacity(pts.count * 14 + 32)
            @inline(__always) func point(_ command: UInt8, _ x: Double, _ y: Double) {
                d.append(command)
                ByteText.appendFixed(x, decimals: 1, to: &d)
                d.append(UInt8(ascii: ","))
                ByteText.appendFixed(y, decimals: 1, to: &d)
            }
            point(UInt8(ascii: "M"), px(pts[0].x), py(pts[0].y))
            for p in pts.dropFirst() { point(UInt8(ascii: "L"), px(p.x), py(p.y)) }
            if ser.area {
                let base = py(max(y0, min(y1, 0)))
                point(UInt8(ascii: "L"), px(pts.last!.x), base)
                point(UInt8(ascii: "L"), px(pts[0].x), base)
                d.append(UInt8(ascii: "Z"))
            }
            let path = String(decoding: d, as: UTF8.self)
            if ser.area {
                s += "<path d=\"\(path)\" fill=\"\(ser.color)\" fill-opacity=\"0.35\" stroke=\"\(ser.color)\" stroke-width=\"1\"/>"
            } else {
                s += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
            }
        }
        s += "</g>"
        for m in markers {
            // Drawn about the origin and moved into place, so zooming moves a marker without stretching it.
            let (cx, cy) = (px(m.x), py(m.y))
            let tri = m.up ? "M0,-6L-5,3L5,3Z" : "M0,6L-5,-3L5,-3Z"
            s +=
                "<path class=\"marker\" data-x=\"\(f(cx))\" transform=\"translate(\(f(cx)),\(f(cy)))\" d=\"\(tri)\" fill=\"\(m.color)\"><title>\(escape(m.title))</title></path>"
        }
        s += "</g><line class=\"cross\" x1=\"0\" x2=\"0\" y1=\"\(f(top))\" y2=\"\(f(height - bottom))\" visibility=\"hidden\"/></svg>"
        if series.count > 1 || !markers.isEmpty {
            s += "<div class=\"legend\">" + series.map { "<span><i style=\"background:\($0.color)\"></i>\(escape($0.label))</span>" }.joined()
            if !markers.isEmpty { s += "<span><i class=\"up\"></i>entry</span><span><i class=\"down\"></i>exit</span>" }
            s += "</div>"
        }
        s += "<script type=\"application/json\" class=\"chart-data\">" + json.closed + "</script>"
        return s + "</figure>"
    }

    /// The data a line chart's script reads: the x range, the plot's left edge and width in
    /// `viewBox` units, each series' drawn points, and the x-axis text of the first series' points.
    struct ChartJSON {
        /// The object so far, as UTF-8 (numbers written straight in: no string per point).
        var bytes: [UInt8] = []
        private var first = true

        init(x0: Double, x1: Double, left: Double, width: Double) {
            append("{\"x0\":")
            Self.appendNumber(x0, to: &bytes)
            append(",\"x1\":")
            Self.appendNumber(x1, to: &bytes)
            append(",\"l\":")
            Self.appendNumber(left, to: &bytes)
            append(",\"w\":")
            Self.appendNumber(width, to: &bytes)
            append(",\"s\":[")
        }

        private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

        /// Appends a series; the first one also gives the x-axis labels (`xt`).
        mutating func add(series: Series, points: [(x: Double, y: Double)], xLabel: (Double) -> String) {
            let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
            bytes.reserveCapacity(bytes.count + finite.count * (first ? 40 : 28) + 64)
            if !first { append(",") }
            append("{\"n\":" + Self.string(series.label) + ",\"c\":" + Self.string(series.color) + ",\"x\":[")
            for (k, p) in finite.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.appendNumber(p.x, to: &bytes)
            }
            append("],\"y\":[")
            for (k, p) in finite.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.appendNumber(p.y, to: &bytes)
            }
            append("]")
            if first {
                append(",\"xt\":[")
                for (k, p) in finite.enumerated() {
                    if k > 0 { bytes.append(UInt8(ascii: ",")) }
                    Self.appendString(xLabel(p.x), to: &bytes)
                }
                append("]")
            }
            append("}")
            first = false
        }

        /// The finished object (closes the series list).
        var closed: String { String(decoding: bytes, as: UTF8.self) + "]}" }

        /// Appends a JSON number: an integral value below 1e15 as an integer, another finite
        /// value as Swift writes it (the shortest text that reads back to it), `null` for NaN and ±∞.
        @inline(__always)
        static func appendNumber(_ v: Double, to out: inout [UInt8]) {
            guard v.isFinite else {
                out.append(contentsOf: "null".utf8)
                return
            }
            if v == v.rounded(), abs(v) < 1e15 {
                ByteText.appendInteger(Int64(v), to: &out)
            } else {
                out.append(contentsOf: v.description.utf8)
            }
        }

        /// A JSON string; `<` is escaped so the text can never close its `<script>` element.
        static func string(_ s: String) -> String {
            var out = ""
            JSONText.appendString(s, to: &out, htmlSafe: true)
            return out
        }

        /// `string(s)`'s bytes appended to `out` (a label per point: no string built when `s`
        /// needs no escape, the usual case).
        static func appendString(_ s: String, to out: inout [UInt8]) {
            if JSONText.needsEscape(s, htmlSafe: true) {
                out.append(contentsOf: string(s).utf8)
            } else {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: s.utf8)
                out.append(UInt8(ascii: "\""))
            }
        }
    }

    /// A histogram of `values` in `bins` equal-width bins (negative bins red, positive green).
    public static func histogram(id: String, title: String, values: [Double], bins: Int = 20, format: (Double) -> String = label) -> String {
        let v = values.filter(\.isFinite)
        guard let lo = v.min(), let hi = v.max() else {
            return "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><p>No data.</p></figure>"
        }
        let span = hi > lo ? hi - lo : 1
        var counts = [Int](repeating: 0, count: bins)
        for x in v { counts[min(bins - 1, Int((x - lo) / span * Double(bins)))] += 1 }
        let maxCount = Double(counts.max() ?? 1)
        let pw = width - left - right
        let ph = height - top - bottom
        let bw = pw / Double(bins)
        var s =
            "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for t in ticks(0, maxCount) where t == t.rounded() {
            let y = top + (1 - t / maxCount) * ph
            s +=
                "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y))\" y2=\"\(f(y))\"/><text class=\"tick\" x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Int(t))</text>"
        }
        for (k, c) in counts.enumerated() {
            let x = left + Double(k) * bw
            let h = Double(c) / maxCount * ph
            let mid = lo + (Double(k) + 0.5) / Double(bins) * span
            s +=
                "<rect x=\"\(f(x + 1))\" y=\"\(f(top + ph - h))\" width=\"\(f(max(1, bw - 2)))\" height=\"\(f(h))\" fill=\"\(mid < 0 ? "#d9534f" : "#2e9d5b")\"><title>\(escape(format(mid))): \(c)</title></rect>"
        }
        for k in [0, bins / 2, bins] {
            let x = left + Double(k) * bw
            s +=
                "<text class=\"tick\" x=\"\(f(x))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(escape(format(lo + Double(k) / Double(bins) * span)))</text>"
        }
        return s + "</svg></figure>"
    }

    /// A heatmap of rows × 12 months; nil cells are blank.
    public static func monthlyHeatmap(id: String, title: String, years: [Int], values: [[Double?]]) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let cell = 56.0
        let rowH = 24.0
        let w = 60 + cell * 12
        let h = 24 + rowH * Double(years.count)
        let maxAbs = max(0.01, values.flatMap { $0.compactMap { $0 } }.map(abs).max() ?? 0.01)
        var s =
            "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for (m, name) in months.enumerated() {
            s += "<text class=\"tick\" x=\"\(f(60 + cell * (Double(m) + 0.5)))\" y=\"16\" text-anchor=\"middle\">\(name)</text>"
        }
        for (r, year) in years.enumerated() {
            let y = 24 + rowH * Double(r)
            s += "<text class=\"tick\" x=\"52\" y=\"\(f(y + 16))\" text-anchor=\"end\">\(year)</text>"
            for m in 0..<12 {
                guard let v = values[r][m] else { continue }
                let a = min(1, abs(v) / maxAbs)
                let alpha = ByteText.fixed(0.15 + 0.85 * a, decimals: 2)
                let color = v >= 0 ? "rgba(46,157,91,\(alpha))" : "rgba(217,83,79,\(alpha))"
                s +=
                    "<rect x=\"\(f(60 + cell * Double(m) + 1))\" y=\"\(f(y + 1))\" width=\"\(f(cell - 2))\" height=\"\(f(rowH - 2))\" fill=\"\(color)\"><title>\(year)-\(months[m]): \(ByteText.fixed(v, decimals: 2))%</title></rect>"
                s +=
                    "<text class=\"cell\" x=\"\(f(60 + cell * (Double(m) + 0.5)))\" y=\"\(f(y + 16))\" text-anchor=\"middle\">\(f(v))</text>"
            }
        }
        return s + "</svg></figure>"
    }

    /// Horizontal bars, one per label (negative red, positive green), values printed beside them.
    public static func barChart(id: String, title: String, labels: [String], values: [Double], format: (Double) -> String = label) -> String {
        let rowH = 18.0
        let labelW = 90.0
        let w = width
        let h = 10 + rowH * Double(max(labels.count, 1))
        let finite = values.filter(\.isFinite)
        let lo = min(0, finite.min() ?? 0)
        let hi = max(0, finite.max() ?? 0)
        let span = hi > lo ? hi - lo : 1
        let plot = w - labelW - 80
        let zero = labelW + (0 - lo) / span * plot
        var s =
            "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(escape(title))\">"
        s += "<line class=\"zero\" x1=\"\(f(zero))\" x2=\"\(f(zero))\" y1=\"4\" y2=\"\(f(h - 4))\"/>"
        for (i, (name, v)) in zip(labels, values).enumerated() {
            let y = 6 + rowH * Double(i)
            let x1 = labelW + ((v.isFinite ? min(v, 0) : 0) - lo) / span * plot
            let x2 = labelW + ((v.isFinite ? max(v, 0) : 0) - lo) / span * plot
            s += "<text class=\"tick\" x=\"\(f(labelW - 6))\" y=\"\(f(y + 12))\" text-anchor=\"end\">\(escape(name))</text>"
            s +=
                "<rect x=\"\(f(x1))\" y=\"\(f(y + 2))\" width=\"\(f(max(1, x2 - x1)))\" height=\"\(f(rowH - 4))\" fill=\"\(v < 0 ? "#d9534f" : "#2e9d5b")\"><title>\(escape(name)): \(escape(format(v)))</title></rect>"
            s += "<text class=\"tick\" x=\"\(f(x2 + 4))\" y=\"\(f(y + 12))\">\(escape(format(v)))</text>"
        }
        return s + "</svg></figure>"
    }

    /// A square matrix heatmap (correlations): blue for positive, red for negative, in [-1, 1].
    public static func matrixHeatmap(id: String, title: String, labels: [String], values: [[Double]]) -> String {
        let n = labels.count
        let cell = min(48.0, 640.0 / Double(max(n, 1)))
        let offset = 70.0
        let size = offset + cell * Double(n)
        var s =
            "<figure data-chart=\"\(id)\"><figcaption>\(escape(title))</figcaption><svg viewBox=\"0 0 \(Int(size)) \(Int(size))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for (i, name) in labels.enumerated() {
            let c = offset + cell * (Double(i) + 0.5)
            s += "<text class=\"tick\" x=\"\(f(offset - 4))\" y=\"\(f(c + 4))\" text-anchor=\"end\">\(escape(name))</text>"
            s += "<text class=\"tick\" x=\"\(f(c))\" y=\"\(f(offset - 6))\" text-anchor=\"middle\">\(escape(String(name.prefix(5))))</text>"
        }
        for i in 0..<n {
            for j in 0..<n {
                let v = values[i][j]
                let a = v.isFinite ? min(1, abs(v)) : 0
                let alpha = ByteText.fixed(0.1 + 0.9 * a, decimals: 2)
                let color = v >= 0 ? "rgba(51,102,204,\(alpha))" : "rgba(217,83,79,\(alpha))"
                s +=
                    "<rect x=\"\(f(offset + cell * Double(j)))\" y=\"\(f(offset + cell * Double(i)))\" width=\"\(f(cell - 1))\" height=\"\(f(cell - 1))\" fill=\"\(color)\"><title>\(escape(labels[i])) / \(escape(labels[j])): \(ByteText.fixed(v, decimals: 2))</title></rect>"
            }
        }
        return s + "</svg></figure>"
    }

    /// The page: title, CSS for laptop and phone, and the sections; with `interactionScript`
    /// inlined when a section has an interactive (line) chart.
    public static func page(title: String, subtitle: String, sections: [String]) -> String {
        let interactive = sections.contains { $0.contains("<figure class=\"ix") }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>
            body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
            header{background:#123;color:#fff;padding:14px 20px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.8}
            main{max-width:1180px;margin:0 auto;padding:12px;display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:12px}
            section,figure{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:0;padding:10px 12px}
            figure.wide,section.wide{grid-column:1/-1}figcaption,h2{font-weight:600;font-size:15px;margin:0 0 6px}
            svg{width:100%;height:auto;display:block}.grid{stroke:#e6e9ee}.zero{stroke:#8a94a3;stroke-dasharray:3 3}
            .tick{font-size:13px;fill:#5b6573}.cell{font-size:10px;fill:#1d232b}
            .legend{font-size:12px;color:#5b6573;margin-top:4px}.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
            .legend i.up{background:#2e9d5b;clip-path:polygon(50% 0,0 100%,100% 100%)}.legend i.down{background:#d9534f;clip-path:polygon(0 0,100% 0,50% 100%)}
            table{border-collapse:collapse;width:100%;font-size:13px}td{padding:3px 6px;border-bottom:1px solid #eef0f3}td:last-child{text-align:right;font-variant-numeric:tabular-nums}
            pre{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#f3f5f8;padding:8px;border-radius:6px;margin:0}
            \(interactive ? interactionCSS : "")
            </style></head><body>
            <header><h1>\(escape(title))</h1><p>\(escape(subtitle))</p></header>
            <main>
            \(sections.joined(separator: "\n"))
            </main>\(interactive ? "<script>\n" + interactionScript + "\n</script>" : "")</body></html>
            """
    }

    /// `html`'s figures made full-width (`class="wide"`), interactive ones kept interactive.
    public static func widen(_ html: String) -> String {
        replacingAll(
            html,
            [
                ("<figure class=\"ix\" data-chart", "<figure class=\"ix wide\" data-chart"),
                ("<figure data-chart", "<figure class=\"wide\" data-chart"),
            ]
        )
    }

    /// A two-column table section.
    public static func table(_ title: String, rows: [(String, String)], wide: Bool = false) -> String {
        "<section\(wide ? " class=\"wide\"" : "")><h2>\(escape(title))</h2><table>"
            + rows.map { "<tr><td>\(escape($0.0))</td><td>\(escape($0.1))</td></tr>" }.joined() + "</table></section>"
    }

    /// A preformatted text section.
    public static func text(_ title: String, _ body: String) -> String {
        "<section><h2>\(escape(title))</h2><pre>\(escape(body))</pre></section>"
    }
}

extension String {
    /// This report fragment with its figures full-width (``SVG/widen(_:)``).
    var widened: String { SVG.widen(self) }
}
