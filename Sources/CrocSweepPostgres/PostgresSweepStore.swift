import CrocPipelines
import CrocSupport
import Foundation
import Logging
import PostgresNIO

/// Sweep trials in PostgreSQL (postgres-nio): one store for many machines.
///
/// Every shard of a sweep writes here; `(sweep, trial)` is the primary key
/// and inserts are `ON CONFLICT DO NOTHING`, so a restarted shard or two
/// shards racing never duplicate a trial. The tables are the SQLite store's,
/// created under an advisory lock so shards starting together do not race.
public final class PostgresSweepStore: SweepStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    /// The URL without its password.
    public let displayURL: String

    /// Connects to `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]
    /// [&connect_timeout=SECONDS]` and creates the tables if needed.
    /// - Throws: `SweepStoreError` naming the server (never the password).
    /// - Parameter timeout: How long to wait for the server before giving up; the URL's
    ///   `connect_timeout` (seconds, as libpq reads it) overrides it.
    public init(url: String, timeout: Duration = .seconds(15), logger: Logger = Logger(label: "crocbot.sweep.postgres")) async throws {
        guard let u = URLComponents(string: url), ["postgres", "postgresql"].contains(u.scheme ?? ""), let host = u.host, !host.isEmpty else {
            throw SweepStoreError("store: expected postgres://user:password@host:port/database, found '\(Self.redact(url))'")
        }
        let timeout = try Self.connectTimeout(u, default: timeout)
        let database = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        let mode = u.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw SweepStoreError("store: sslmode must be disable, prefer or require, found '\(mode)'")
        }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: u.port ?? 5432,
            username: u.user ?? "postgres",
            password: u.password,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
        configuration.options.connectTimeout = timeout
        displayURL = Self.redact(url)
        self.logger = logger
        // Background chatter (such as a lease queued before `run()` has started) stays quiet;
        // failures surface as thrown errors.
        var background = logger
        background.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
        do {
            // The pool retries a refused connection for as long as a lease waits: bound the wait.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await client.withTransaction(logger: logger) { c in
                        try await c.query("SELECT pg_advisory_xact_lock(727263)", logger: logger)
                        for statement in SQLiteSweepStore.schema.split(separator: ";")
                        where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                            try await c.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw SweepStoreError("no answer within \(timeout)")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            runner.cancel()
            throw SweepStoreError("\(displayURL): cannot open the sweep store: \(String(reflecting: error))")
        }
    }

    /// The URL's `connect_timeout` (seconds, as libpq reads it), else `fallback`.
    private static func connectTimeout(_ u: URLComponents, default fallback: Duration) throws -> Duration {
        guard let text = u.queryItems?.first(where: { $0.name == "connect_timeout" })?.value else { return fallback }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw SweepStoreError("store: connect_timeout must be a number of seconds in (0, 86400], found '\(text)'")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Stops the client.
    public func close() { runner.cancel() }

    deinit { runner.cancel() }

    /// The URL with its password replaced by `***`.
    public static func redact(_ url: String) -> String {
        guard var u = URLComponents(string: url), u.password != nil else { return url }
        u.password = "***"
        return u.string ?? "postgres://***"
    }

    private func wrap<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as SweepStoreError { throw e } catch {
            throw SweepStoreError("\(displayURL): \(what): \(String(reflecting: error))")
        }
    }

    /// See `SweepStore`.
    public func open(_ sweep: SweepRecord) async throws {
        try await wrap("open sweep") {
            try await client.withTransaction(logger: logger) { c in
                try await c.query("SELECT pg_advisory_xact_lock(727264)", logger: logger)
                var existing: SweepRecord?
                let rows = try await c.query("SELECT name, spec_hash, spec, planned FROM crocbot_sweeps WHERE name = \(sweep.name)", logger: logger)
                for try await (name, hash, spec, planned) in rows.decode((String, String, String, Int).self) {
                    existing = SweepRecord(name: name, specHash: hash, spec: spec, planned: planned)
                }
                try Self.check(existing, sweep, store: displayURL)
                try await c.query(
                    """
                    INSERT INTO crocbot_sweeps (name, spec_hash, spec, planned) VALUES (\(sweep.name), \(sweep.specHash), \(sweep.spec), \(sweep.planned))
                    ON CONFLICT (name) DO NOTHING
                    """,
                    logger: logger
                )
            }
        }
    }

    /// See `SweepStore`.
    public func record(_ trials: [TrialResult], sweep: String) async throws {
        guard !trials.isEmpty else { return }
        try await wrap("record trials") {
            try await client.withTransaction(logger: logger) { c in
                var start = 0
                while start < trials.count {
                    let batch = trials[start..<min(trials.count, start + 500)]
                    var binds = PostgresBindings(capacity: batch.count * 9)
                    var values: [String] = []
                    for (k, t) in batch.enumerated() {
                        let b = k * 9
                        values.append("(" + (1...9).map { "$\(b + $0)" }.joined(separator: ", ") + ")")
                        binds.append(sweep)
                        binds.append(t.index)
                        binds.append(t.shard)
                        let columns = TrialColumns.encode(t)
                        binds.append(columns.parameters)
                        binds.append(t.objective)
                        binds.append(columns.violations)
                        binds.append(columns.metrics)
                        binds.append(columns.blocks)
                        binds.append(t.seconds)
                    }
                    let sql = """
                        INSERT INTO crocbot_trials (sweep, trial, shard, parameters, objective, violations, metrics, blocks, seconds)
                        VALUES \(values.joined(separator: ", ")) ON CONFLICT (sweep, trial) DO NOTHING
                        """
                    try await c.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                    start += batch.count
                }
            }
        }
    }

    /// See `SweepStore`.
    public func finished(sweep: String) async throws -> Set<Int> {
        try await wrap("read trials") {
            var out = Set<Int>()
            let rows = try await client.query("SELECT trial FROM crocbot_trials WHERE sweep = \(sweep)", logger: logger)
            for try await trial in rows.decode(Int.self) { out.insert(trial) }
            return out
        }
    }

    /// See `SweepStore`.
    public func trials(sweep: String) async throws -> [TrialResult] { try await trials(sweep: sweep, reusing: [:]) }

    /// See `SweepStore`.
    public func trials(sweep: String, reusing known: [Int: TrialResult]) async throws -> [TrialResult] {
        try await wrap("read trials") {
            var out: [TrialResult] = []
            let rows = try await client.query(
                "SELECT trial, shard, parameters, objective, violations, metrics, blocks, seconds FROM crocbot_trials WHERE sweep = \(sweep) ORDER BY trial",
                logger: logger
            )
            for try await (trial, shard, parameters, objective, violations, metrics, blocks, seconds) in rows.decode(
                (Int, Int, String, Double?, String, String, String, Double).self
            ) {
                if let k = Self.reusable(known, index: trial, shard: shard, seconds: seconds) {
                    out.append(k)
                    continue
                }
                out.append(
                    TrialResult(
                        index: trial,
                        shard: shard,
                        parameters: try TrialColumns.parameters(parameters),
                        objective: objective,
                        violations: try TrialColumns.violations(violations),
                        metrics: try TrialColumns.metrics(metrics),
                        blocks: try TrialColumns.blocks(blocks),
                        seconds: seconds
                    )
                )
            }
            return out
        }
    }

    /// See `SweepStore`.
    public func sweeps() async throws -> [SweepRecord] {
        try await wrap("read sweeps") {
            var out: [SweepRecord] = []
            let rows = try await client.query("SELECT name, spec_hash, spec, planned FROM crocbot_sweeps ORDER BY name", logger: logger)
            for try await (name, hash, spec, planned) in rows.decode((String, String, String, Int).self) {
                out.append(SweepRecord(name: name, specHash: hash, spec: spec, planned: planned))
            }
            return out
        }
    }
}
