import Foundation

/// What kind of problem an anomaly is.
public enum AnomalyKind: String, Sendable, Hashable, Codable {
    /// The same error (by fingerprint) N times within a window.
    case repeatedError = "repeated_error"
    /// The share of error lines jumped above its baseline.
    case errorRateSpike = "error_rate_spike"
    /// A latency histogram's p99 estimate above its threshold or far above its baseline.
    case latencySpike = "latency_spike"
    /// A failure counter that keeps rising.
    case risingFailures = "rising_failures"
}

/// Where in the source a log line came from.
public struct CodeLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file as logged (`CrocRuntime/LiveLoop.swift`).
    public var file: String
    /// The line.
    public var line: Int?
    /// The function.
    public var function: String?

    /// `file:line (function)`.
    public var description: String { file + (line.map { ":\($0)" } ?? "") + (function.map { " (\($0))" } ?? "") }
}

/// A detected problem with its evidence.
public struct Anomaly: Sendable, Hashable, Codable {
    /// The kind.
    public var kind: AnomalyKind
    /// Identity for de-duplication.
    public var fingerprint: Fingerprint
    /// One line for people.
    public var summary: String
    /// The log lines that show it (at most 10).
    public var logEvidence: [LogRecord]
    /// The metric samples that show it.
    public var metricEvidence: [MetricSample]
    /// Source locations named by the evidence, most frequent first.
    public var locations: [CodeLocation]
}

/// Finds anomalies in log records and metric snapshots.
public struct AnomalyDetector: Sendable {
    /// Thresholds.
    public struct Settings: Sendable, Hashable {
        /// Occurrences of one error that make an anomaly.
        public var repeatThreshold: Int
        /// The window they must fall in.
        public var repeatWindow: Duration
        /// Error share of a batch that is a spike when also `errorRateFactor` × the baseline.
        public var errorRateFactor: Double
        /// Error lines a batch needs before its rate counts.
        public var errorRateMinimum: Int
        /// p99 thresholds in seconds by histogram name (others: `defaultLatencyThreshold`).
        public var latencyThresholds: [String: Double]
        /// The p99 threshold for histograms not listed (nil: baseline only).
        public var defaultLatencyThreshold: Double?
        /// A p99 this many times its rolling baseline is a spike.
        public var latencyBaselineFactor: Double
        /// Consecutive rising snapshots that make a failure counter an anomaly.
        public var risingSnapshots: Int

        /// Creates settings.
        public init(
            repeatThreshold: Int = 3,
            repeatWindow: Duration = .seconds(300),
            errorRateFactor: Double = 3,
            errorRateMinimum: Int = 5,
            latencyThresholds: [String: Double] = [:],
            defaultLatencyThreshold: Double? = nil,
            latencyBaselineFactor: Double = 5,
            risingSnapshots: Int = 3
        ) {
            self.repeatThreshold = repeatThreshold
            self.repeatWindow = repeatWindow
            self.errorRateFactor = errorRateFactor
            self.errorRateMinimum = errorRateMinimum
            self.latencyThresholds = latencyThresholds
            self.defaultLatencyThreshold = defaultLatencyThreshold
            self.latencyBaselineFactor = latencyBaselineFactor
            self.risingSnapshots = risingSnapshots
        }
    }

    /// The thresholds.
    public var settings: Settings
    private var errors: [Fingerprint: [(time: Double, record: LogRecord)]] = [:]
    private var reported: Set<Fingerprint> = []
    private var baselineErrorRate: Double?
    private var latencyBaselines: [String: (mean: Double, n: Int)] = [:]
    private var counterHistory: [String: (last: Double, rises: Int)] = [:]

    /// Creates a detector.
    public init(settings: Settings = Settings()) { self.settings = settings }

    /// The fingerprint of an error log line.
    public static func fingerprint(_ r: LogRecord, kind: AnomalyKind = .repeatedError) -> Fingerprint {
        let errorText = r.metadata["error"] ?? ""
        let errorType = r.metadata["error_type"] ?? errorText.split(whereSeparator: { $0 == "(" || $0 == ":" }).first.map(String.init)
        let location = r.file.map { f in f + (r.function.map { ":" + $0 } ?? "") }
        return Fingerprint(
            kind: kind.rawValue,
            errorType: errorType,
            message: r.message + (errorText.isEmpty ? "" : " — " + errorText),
            location: location
        )
    }

    /// Looks at new log records.
    public mutating func observe(logs records: [LogRecord]) -> [Anomaly] {
        var found: [Anomaly] = []
        let errorRecords = records.filter(\.isError)
        let window = Double(settings.repeatWindow.components.seconds)
        var touched: [Fingerprint] = []
        for r in errorRecords {
            let fp = Self.fingerprint(r)
            let t = Self.seconds(r.time)
            var list = errors[fp, default: []]
            list.append((t, r))
            list.removeAll { t - $0.time > window }
            errors[fp] = list
            if !touched.contains(fp) { touched.append(fp) }
        }
        for fp in touched {
            let list = errors[fp] ?? []
            guard let r = list.last?.record else { continue }
            if list.count >= settings.repeatThreshold, !reported.contains(fp) {
                reported.insert(fp)
                found.append(
                    Anomaly(
                        kind: .repeatedError,
                        fingerprint: fp,
                        summary: "\(list.count)× in \(Int(window)) s: \(r.message)" + (r.metadata["error"].map { " — \($0)" } ?? ""),
                        logEvidence: list.suffix(10).map(\.record),
                        metricEvidence: [],
                        locations: Self.locations(list.map(\.record))
                    )
                )
            }
        }
        if records.count > 0 {
            let rate = Double(errorRecords.count) / Double(records.count)
            if let base = baselineErrorRate, errorRecords.count >= settings.errorRateMinimum, rate > max(base, 0.01) * settings.errorRateFactor {
                let fp = Fingerprint(kind: AnomalyKind.errorRateSpike.rawValue, errorType: nil, message: "error rate", location: nil)
                found.append(
                    Anomaly(
                        kind: .errorRateSpike,
                        fingerprint: fp,
                        summary: String(format: "error rate %.1f%% of %d lines (baseline %.1f%%)", rate * 100, records.count, base * 100),
                        logEvidence: Array(errorRecords.prefix(10)),
                        metricEvidence: [],
                        locations: Self.locations(errorRecords)
                    )
                )
            }
            baselineErrorRate = baselineErrorRate.map { 0.8 * $0 + 0.2 * rate } ?? rate
        }
        return found
    }

    /// Looks at a metrics snapshot.
    public mutating func observe(metrics samples: [MetricSample]) -> [Anomaly] {
        var found: [Anomaly] = []
        let histograms = Set(samples.filter { $0.name.hasSuffix("_bucket") }.map { String($0.name.dropLast("_bucket".count)) })
        for name in histograms.sorted() {
            guard let p99 = PrometheusText.quantile(0.99, histogram: name, labels: [:], in: samples) else { continue }
            let threshold = settings.latencyThresholds[name] ?? settings.defaultLatencyThreshold
            let base = latencyBaselines[name]
            var reason: String?
            if let threshold, p99 > threshold {
                reason = String(format: "p99 %.6g s above the %.6g s threshold", p99, threshold)
            } else if let base, base.n >= 3, p99 > base.mean * settings.latencyBaselineFactor {
                reason = String(format: "p99 %.6g s, %.1f× its baseline %.6g s", p99, p99 / base.mean, base.mean)
            }
            if let reason {
                found.append(
                    Anomaly(
                        kind: .latencySpike,
                        fingerprint: Fingerprint(kind: AnomalyKind.latencySpike.rawValue, errorType: nil, message: name, location: nil),
                        summary: "\(name): \(reason)",
                        logEvidence: [],
                        metricEvidence: samples.filter { $0.name.hasPrefix(name + "_") },
                        locations: []
                    )
                )
            } else {
                let n = (base?.n ?? 0) + 1
                latencyBaselines[name] = (((base?.mean ?? 0) * Double(n - 1) + p99) / Double(n), n)
            }
        }
        for s in samples where s.name.hasSuffix("_total") && Self.isFailureCounter(s.series) {
            let key = s.series
            let previous = counterHistory[key]
            let rises = previous.map { s.value > $0.last ? $0.rises + 1 : 0 } ?? 0
            counterHistory[key] = (s.value, rises)
            if rises == settings.risingSnapshots {
                found.append(
                    Anomaly(
                        kind: .risingFailures,
                        fingerprint: Fingerprint(kind: AnomalyKind.risingFailures.rawValue, errorType: nil, message: key, location: nil),
                        summary: "\(key) rose in \(rises) snapshots in a row, now \(s.value)",
                        logEvidence: [],
                        metricEvidence: [s],
                        locations: []
                    )
                )
            }
        }
        return found
    }

    static func isFailureCounter(_ name: String) -> Bool {
        ["error", "fail", "reject", "refused", "invalid", "unresolved"].contains { name.contains($0) }
    }

    static func locations(_ records: [LogRecord]) -> [CodeLocation] {
        var counts: [CodeLocation: Int] = [:]
        for r in records { if let f = r.file { counts[CodeLocation(file: f, line: r.line, function: r.function), default: 0] += 1 } }
        return counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key.description < $1.key.description) }.map(\.key)
    }

    /// Seconds since 1970 of an ISO 8601 time (0 when unreadable).
    static func seconds(_ iso: String) -> Double {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: iso) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: iso)?.timeIntervalSince1970 ?? 0
    }
}
