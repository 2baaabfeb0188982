import CrocSupport
import Foundation
import GRDB

/// Sufficient statistics of per-bar returns over one time block: enough to
/// compute the Sharpe ratio, skewness and kurtosis of any union of blocks
/// (the overfitting diagnostics need nothing else).
public struct ReturnMoments: Sendable, Hashable, Codable {
    /// Returns counted.
    public var n: Double = 0
    /// Σr.
    public var s1: Double = 0
    /// Σr².
    public var s2: Double = 0
    /// Σr³.
    public var s3: Double = 0
    /// Σr⁴.
    public var s4: Double = 0

    /// Empty moments.
    public init() {}

    /// Adds one return.
    public mutating func add(_ r: Double) {
        let r2 = r * r
        n += 1
        s1 += r
        s2 += r2
        s3 += r2 * r
        s4 += r2 * r2
    }

    /// The moments of both.
    public static func + (a: ReturnMoments, b: ReturnMoments) -> ReturnMoments {
        var m = a
        m.n += b.n
        m.s1 += b.s1
        m.s2 += b.s2
        m.s3 += b.s3
        m.s4 += b.s4
        return m
    }

    /// Mean return.
    public var mean: Double { n > 0 ? s1 / n : .nan }
    /// Population variance.
    public var variance: Double { n > 0 ? max(0, s2 / n - mean * mean) : .nan }
    /// Per-period Sharpe ratio (mean / standard deviation; 0 when flat).
    public var sharpe: Double {
        let sd = variance.squareRoot()
        return sd > 0 ? mean / sd : 0
    }
    /// Skewness (third standardised moment).
    public var skewness: Double {
        let m = mean
        let v = variance
        guard v > 0 else { return 0 }
        let m3 = s3 / n - 3 * m * s2 / n + 2 * m * m * m
        return m3 / Foundation.pow(v, 1.5)
    }
    /// Kurtosis (fourth standardised moment; 3 for a normal distribution).
    public var kurtosis: Double {
        let m = mean
        let v = variance
        guard v > 0 else { return 3 }
        let m4 = s4 / n - 4 * m * s3 / n + 6 * m * m * s2 / n - 3 * m * m * m * m
        return m4 / (v * v)
    }
}

/// One evaluated parameter set.
public struct TrialResult: Sendable, Hashable, Codable {
    /// The trial's number in its sweep (grid point, random draw or TPE step).
    public var index: Int
    /// The shard that ran it.
    public var shard: Int
    /// The parameters.
    public var parameters: [String: ConfigValue]
    /// The objective (nil when infeasible or not a number).
    public var objective: Double?
    /// Constraint violations (empty when feasible).
    public var violations: [String]
    /// Statistics: `sharpe`, `sortino`, `calmar`, `return`, `maxDrawdownPct`,
    /// `trades`, `exposurePct`, `equityFinal` (means over the data files; trades summed).
    public var metrics: [String: Double]
    /// Return moments per time block (block b of every data file added together).
    public var blocks: [ReturnMoments]
    /// Seconds the trial took.
    public var seconds: Double

    /// Creates a result.
    public init(
        index: Int,
        shard: Int,
        parameters: [String: ConfigValue],
        objective: Double?,
        violations: [String],
        metrics: [String: Double],
        blocks: [ReturnMoments],
        seconds: Double
    ) {
        self.index = index
        self.shard = shard
        self.parameters = parameters
        self.objective = objective
        self.violations = violations
        self.metrics = metrics
        self.blocks = blocks
        self.seconds = seconds
    }

    /// Whether it met the constraints and has an objective.
    public var feasible: Bool { objective != nil }
}

extension Sequence where Element == TrialResult {
    /// The feasible trials, best objective first; ties go to the lower index.
    public func ranked() -> [TrialResult] {
        filter(\.feasible).sorted { ($0.objective!, -$0.index) > ($1.objective!, -$1.index) }
    }
}

/// A sweep's record in a store.
public struct SweepRecord: Sendable, Hashable {
    /// The sweep's name.
    public var name: String
    /// `SweepSpec.specHash`.
    public var specHash: String
    /// The canonical settings.
    public var spec: String
    /// Trials planned.
    public var planned: Int

    /// Creates a record.
    public init(name: String, specHash: String, spec: String, planned: Int) {
        self.name = name
        self.specHash = specHash
        self.spec = spec
        self.planned = planned
    }
}

/// A store problem.
public struct SweepStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the store and the sweep.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Where trials go. Recording is idempotent on (sweep, trial): a trial
/// recorded twice (a restarted shard, two shards racing) is kept once.
public protocol SweepStore: Sendable {
    /// Registers the sweep, or checks that a sweep of that name has the same settings.
    /// - Throws: `SweepStoreError` when the name is taken by different settings.
    func open(_ sweep: SweepRecord) async throws
    /// Records trials; ones already there are left as they are.
    func record(_ trials: [TrialResult], sweep: String) async throws
    /// Indices of the trials recorded for the sweep.
    func finished(sweep: String) async throws -> Set<Int>
    /// All trials of the sweep, by index.
    func trials(sweep: String) async throws -> [TrialResult]
    /// All trials of the sweep, by index, taking a row from `known` instead of decoding it
    /// when `known` holds a result with its index, shard and timing (the row this process
    /// recorded itself); every other row is read from the store.
    func trials(sweep: String, reusing known: [Int: TrialResult]) async throws -> [TrialResult]
    /// The sweeps in the store.
    func sweeps() async throws -> [SweepRecord]
}

extension SweepStore {
    /// Reads every row (stores that cannot skip decoding).
    public func trials(sweep: String, reusing known: [Int: TrialResult]) async throws -> [TrialResult] {
        try await trials(sweep: sweep)
    }

    /// Whether `known` holds the stored row (index, shard, seconds) so that it need not be decoded.
    public static func reusable(_ known: [Int: TrialResult], index: Int, shard: Int, seconds: Double) -> TrialResult? {
        guard let k = known[index], k.shard == shard, k.seconds.bitPattern == seconds.bitPattern else { return nil }
        return k
    }

    /// Checks a sweep against an existing record of the same name.
    /// - Throws: `SweepStoreError` when the settings differ.
    public static func check(_ existing: SweepRecord?, _ sweep: SweepRecord, store: String) throws {
        guard let e = existing else { return }
        guard e.specHash == sweep.specHash else {
            throw SweepStoreError(
                "\(store): sweep '\(sweep.name)' already exists with different settings (spec \(e.specHash), this one \(sweep.specHash)); give the sweep a new name"
            )
        }
    }
}

/// How sweeps write structured values: JSON with sorted keys (non-finite
/// numbers as strings), so the same value is always the same text.
public enum SweepJSON {
    /// The JSON text of `v`.
    public static func encode<T: Encodable>(_ v: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? String(decoding: encoder.encode(v), as: UTF8.self)) ?? "null"
    }

    /// Reads what `encode` wrote.
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(T.self, from: Data(text.utf8))
    }
}

/// Trials in memory (tests, benchmarks, walk-forward windows).
public actor InMemorySweepStore: SweepStore {
    private var records: [String: SweepRecord] = [:]
    private var rows: [String: [Int: TrialResult]] = [:]

    /// An empty store.
    public init() {}

    /// See `SweepStore`.
    public func open(_ sweep: SweepRecord) throws {
        try Self.check(records[sweep.name], sweep, store: "memory")
        records[sweep.name] = sweep
    }

    /// See `SweepStore`.
    public func record(_ trials: [TrialResult], sweep: String) {
        for t in trials where rows[sweep]?[t.index] == nil { rows[sweep, default: [:]][t.index] = t }
    }

    /// See `SweepStore`.
    public func finished(sweep: String) -> Set<Int> { Set(rows[sweep]?.keys ?? [:].keys) }

    /// See `SweepStore`.
    public func trials(sweep: String) -> [TrialResult] { (rows[sweep] ?? [:]).values.sorted { $0.index < $1.index } }

    /// See `SweepStore`.
    public func sweeps() -> [SweepRecord] { records.values.sorted { $0.name < $1.name } }
}

/// Trials in a SQLite file (GRDB, WAL): the default store.
public final class SQLiteSweepStore: SweepStore {
    private let db: DatabaseQueue
    /// The file.
    public let path: String

    /// Opens or creates the store.
    /// - Throws: `SweepStoreError` naming the file.
    public init(path: String) throws {
        self.path = path
        do {
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var config = Configuration()
            config.busyMode = .timeout(30)
            db = try DatabaseQueue(path: path, configuration: config)
            try Self.enableWAL(db)
            try db.write { db in try db.execute(sql: Self.schema) }
        } catch {
            throw SweepStoreError("\(path): cannot open the sweep store: \(error)")
        }
    }

    /// Switches the file to WAL (once per file; it persists). Shard processes opening a new store
    /// at the same moment race for the switch, and SQLite may answer `SQLITE_BUSY` to it without
    /// calling the busy handler, so a busy answer is retried (for up to 30 s) instead of failing.
    private static func enableWAL(_ db: DatabaseQueue) throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                try db.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode=WAL") }
                return
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// The tables; the same statements work on PostgreSQL.
    public static let schema = """
        CREATE TABLE IF NOT EXISTS crocbot_sweeps (
            name TEXT PRIMARY KEY, spec_hash TEXT NOT NULL, spec TEXT NOT NULL, planned BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS crocbot_trials (
            sweep TEXT NOT NULL, trial BIGINT NOT NULL, shard BIGINT NOT NULL, parameters TEXT NOT NULL,
            objective DOUBLE PRECISION, violations TEXT NOT NULL, metrics TEXT NOT NULL, blocks TEXT NOT NULL,
            seconds DOUBLE PRECISION NOT NULL, PRIMARY KEY (sweep, trial));
        """

    private func wrap<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SweepStoreError { throw e } catch { throw SweepStoreError("\(path): \(what): \(error)") }
    }

    /// See `SweepStore`.
    public func open(_ sweep: SweepRecord) throws {
        try wrap("open sweep") {
            try db.write { db in
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT name, spec_hash, spec, planned FROM crocbot_sweeps WHERE name = ?",
                    arguments: [sweep.name]
                )
                let existing = row.map { SweepRecord(name: $0["name"], specHash: $0["spec_hash"], spec: $0["spec"], planned: $0["planned"]) }
                try Self.check(existing, sweep, store: path)
                try db.execute(
                    sql: "INSERT INTO crocbot_sweeps (name, spec_hash, spec, planned) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    arguments: [sweep.name, sweep.specHash, sweep.spec, sweep.planned]
                )
            }
        }
    }

    /// See `SweepStore`.
    public func record(_ trials: [TrialResult], sweep: String) throws {
        guard !trials.isEmpty else { return }
        try wrap("record trials") {
            try db.write { db in
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO crocbot_trials (sweep, trial, shard, parameters, objective, violations, metrics, blocks, seconds)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sweep, trial) DO NOTHING
                        """
                )
                for t in trials {
                    let c = TrialColumns.encode(t)
                    try statement.execute(arguments: [
                        sweep, t.index, t.shard, c.parameters, t.objective, c.violations, c.metrics, c.blocks, t.seconds,
                    ])
                }
            }
        }
    }

    /// See `SweepStore`.
    public func finished(sweep: String) throws -> Set<Int> {
        try wrap("read trials") {
            Set(try db.read { db in try Int.fetchAll(db, sql: "SELECT trial FROM crocbot_trials WHERE sweep = ?", arguments: [sweep]) })
        }
    }

    /// See `SweepStore`.
    public func trials(sweep: String) throws -> [TrialResult] { try trials(sweep: sweep, reusing: [:]) }

    /// See `SweepStore`.
    public func trials(sweep: String, reusing known: [Int: TrialResult]) throws -> [TrialResult] {
        try wrap("read trials") {
            try db.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT trial, shard, parameters, objective, violations, metrics, blocks, seconds FROM crocbot_trials WHERE sweep = ? ORDER BY trial",
                    arguments: [sweep]
                ).map { row in
                    if let k = Self.reusable(known, index: row["trial"], shard: row["shard"], seconds: row["seconds"]) { return k }
                    return TrialResult(
                        index: row["trial"],
                        shard: row["shard"],
                        parameters: try TrialColumns.parameters(row["parameters"]),
                        objective: row["objective"],
                        violations: try TrialColumns.violations(row["violations"]),
                        metrics: try TrialColumns.metrics(row["metrics"]),
                        blocks: try TrialColumns.blocks(row["blocks"]),
                        seconds: row["seconds"]
                    )
                }
            }
        }
    }

    /// See `SweepStore`.
    public func sweeps() throws -> [SweepRecord] {
        try wrap("read sweeps") {
            try db.read { db in
                try Row.fetchAll(db, sql: "SELECT name, spec_hash, spec, planned FROM crocbot_sweeps ORDER BY name").map {
                    SweepRecord(name: $0["name"], specHash: $0["spec_hash"], spec: $0["spec"], planned: $0["planned"])
                }
            }
        }
    }
}
