import Foundation

/// One sample of Prometheus text exposition.
public struct MetricSample: Sendable, Hashable, Codable {
    /// The metric name (`crocbot_orders_total`, `..._bucket`).
    public var name: String
    /// The labels.
    public var labels: [String: String]
    /// The value.
    public var value: Double

    /// `name{k="v",...}`, labels sorted.
    public var series: String {
        labels.isEmpty ? name : name + "{" + labels.keys.sorted().map { "\($0)=\"\(labels[$0]!)\"" }.joined(separator: ",") + "}"
    }
}

/// Reads Prometheus text exposition (a `/metrics` scrape or a file
/// snapshot) and estimates histogram quantiles.
public enum PrometheusText {
    /// Parses the samples; comment and malformed lines are skipped.
    public static func parse(_ text: String) -> [MetricSample] {
        var out: [MetricSample] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var name = ""
            var labels: [String: String] = [:]
            var rest: Substring
            if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"), brace < close {
                name = String(line[..<brace])
                labels = parseLabels(line[line.index(after: brace)..<close])
                rest = line[line.index(after: close)...]
            } else {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { continue }
                name = String(parts[0])
                rest = parts[1]
            }
            let fields = rest.split(separator: " ")
            guard let first = fields.first, let value = Double(first) ?? (first == "+Inf" ? .infinity : nil), !name.isEmpty else { continue }
            out.append(MetricSample(name: name, labels: labels, value: value))
        }
        return out
    }

    private static func parseLabels(_ s: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        var i = s.startIndex
        while i < s.endIndex {
            guard let eq = s[i...].firstIndex(of: "=") else { break }
            let key = s[i..<eq].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var j = s.index(after: eq)
            guard j < s.endIndex, s[j] == "\"" else { break }
            j = s.index(after: j)
            var value = ""
            while j < s.endIndex, s[j] != "\"" {
                if s[j] == "\\", s.index(after: j) < s.endIndex {
                    j = s.index(after: j)
                    value.append(s[j] == "n" ? "\n" : s[j])
                } else {
                    value.append(s[j])
                }
                j = s.index(after: j)
            }
            labels[key] = value
            i = j < s.endIndex ? s.index(after: j) : j
        }
        return labels
    }

    /// The `q` quantile of histogram `name` (labels other than `le` must equal
    /// `labels`), by linear interpolation inside the bucket, as PromQL's
    /// `histogram_quantile` does; nil without observations.
    public static func quantile(_ q: Double, histogram name: String, labels: [String: String] = [:], in samples: [MetricSample]) -> Double? {
        var buckets: [(le: Double, count: Double)] = []
        for s in samples where s.name == name + "_bucket" {
            var rest = s.labels
            guard let leText = rest.removeValue(forKey: "le"), rest == labels else { continue }
            let le = leText == "+Inf" ? Double.infinity : (Double(leText) ?? .nan)
            if !le.isNaN { buckets.append((le, s.value)) }
        }
        buckets.sort { $0.le < $1.le }
        guard let total = buckets.last?.count, total > 0 else { return nil }
        let rank = q * total
        var previous = (le: 0.0, count: 0.0)
        for b in buckets {
            if b.count >= rank {
                if b.le.isInfinite { return previous.le }  // beyond the last finite bucket
                let inBucket = b.count - previous.count
                return inBucket <= 0 ? b.le : previous.le + (b.le - previous.le) * (rank - previous.count) / inBucket
            }
            previous = b
        }
        return previous.le
    }
}

/// Reads metrics from a file snapshot or by scraping a `/metrics` URL.
public struct MetricsMonitor: Sendable {
    /// A path or an `http(s)://` URL.
    public var source: String

    /// Creates a monitor.
    public init(source: String) { self.source = source }

    /// The current samples.
    /// - Throws: `AgentError` when the file cannot be read or the scrape fails.
    public func read() async throws(AgentError) -> [MetricSample] {
        if source.hasPrefix("http://") || source.hasPrefix("https://") {
            return PrometheusText.parse(try await HTTP.get(source))
        }
        do {
            return PrometheusText.parse(try String(contentsOfFile: source, encoding: .utf8))
        } catch {
            throw AgentError(.monitor, "cannot read metrics snapshot \(source): \(error.localizedDescription)")
        }
    }
}
