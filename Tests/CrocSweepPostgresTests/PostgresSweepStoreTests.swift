import CrocPipelines
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocSweepPostgres

/// The server for these tests: `CROCBOT_TEST_POSTGRES=postgres://user:password@127.0.0.1:5432/db`
/// (`.ci/run` starts PostgreSQL and sets it; without it these tests are skipped).
let postgresURL = ProcessInfo.processInfo.environment["CROCBOT_TEST_POSTGRES"]

func grid(_ name: String) throws -> SweepSpec {
    let yaml = """
        name: \(name)
        strategy: sma_cross
        data: [\(repoRoot.appendingPathComponent("Examples/data/GOOGL.csv").path)]
        parameters:
          fast: {min: 5, max: 40, step: 5}
          slow: {min: 20, max: 100, step: 20}
        constraints: {minTrades: 2}
        """
    return try SweepSpec(try AppConfig.parse(text: yaml), source: "test")
}

@Suite("PostgreSQL sweep store", .enabled(if: postgresURL != nil, "set CROCBOT_TEST_POSTGRES (see .ci/run)"), .serialized)
struct PostgresSweepStoreTests {
    @Test("three shards in parallel record every trial exactly once; the results equal SQLite's")
    func shardsAndParity() async throws {
        let name = "pg-\(UUID().uuidString.prefix(8))"
        let runner = try SweepRunner(spec: try grid(name))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<3 {
                group.addTask {
                    let store = try await PostgresSweepStore(url: postgresURL!)
                    defer { store.close() }
                    _ = try await runner.run(store: store, shard: Shard(index: i, count: 3), workers: 1, chunk: 3)
                }
            }
            try await group.waitForAll()
        }
        let store = try await PostgresSweepStore(url: postgresURL!)
        defer { store.close() }
        let trials = try await store.trials(sweep: name)
        #expect(trials.map(\.index) == Array(0..<40))
        #expect(trials.allSatisfy { $0.shard == $0.index % 3 })
        // Recording again (a restarted shard) changes nothing.
        try await store.record(
            trials.map {
                var t = $0
                t.seconds = 99
                return t
            },
            sweep: name
        )
        #expect(try await store.trials(sweep: name) == trials)
        // Rows this process holds (same index, shard and timing) are reused, others decoded.
        var known = Dictionary(uniqueKeysWithValues: trials.map { ($0.index, $0) })
        #expect(try await store.trials(sweep: name, reusing: known) == trials)
        known[3]?.objective = 42  // marks which rows were taken from `known`
        known[4]?.objective = 42
        known[4]?.seconds += 1  // …and this one no longer matches the stored row
        let mixed = try await store.trials(sweep: name, reusing: known)
        #expect(mixed[3].objective == 42 && mixed[4] == trials[4] && Array(mixed[5...]) == Array(trials[5...]))
        // The same sweep on SQLite gives the same results, bit for bit.
        let path = testTemporaryURL().appendingPathComponent("crocbot-pg-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lite = try await runner.run(store: try SQLiteSweepStore(path: path), workers: 2).trials
        #expect(lite.map(\.parameters) == trials.map(\.parameters))
        #expect(lite.map(\.objective) == trials.map(\.objective))
        #expect(lite.map(\.metrics) == trials.map(\.metrics))
        #expect(lite.map(\.blocks) == trials.map(\.blocks))
        #expect(lite.map(\.violations) == trials.map(\.violations))
        #expect(try await store.sweeps().contains { $0.name == name && $0.planned == 40 })
    }

    @Test("a changed spec under the same name is refused; bad URLs and unreachable servers are typed errors without the password")
    func errors() async throws {
        let name = "pg-\(UUID().uuidString.prefix(8))"
        let store = try await PostgresSweepStore(url: postgresURL!)
        defer { store.close() }
        let spec = try grid(name)
        try await store.open(SweepRecord(name: name, specHash: spec.specHash, spec: spec.canonical, planned: 40))
        let e = await #expect(throws: SweepStoreError.self) {
            try await store.open(SweepRecord(name: name, specHash: "0000000000000000", spec: "{}", planned: 1))
        }
        #expect(e?.description.contains("already exists with different settings") == true)
        await #expect(throws: SweepStoreError.self) { try await PostgresSweepStore(url: "mysql://x") }
        let down = await #expect(throws: SweepStoreError.self) {
            try await PostgresSweepStore(url: "postgres://u:hunter2@127.0.0.1:1/db", timeout: .seconds(2))
        }
        #expect(down?.description.contains("hunter2") == false)
        #expect(down?.description.contains("***") == true)
        // The URL's connect_timeout bounds the wait (libpq's parameter); a bad one is named.
        let started = ContinuousClock.now
        let quick = await #expect(throws: SweepStoreError.self) {
            try await PostgresSweepStore(url: "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=0.5", timeout: .seconds(30))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(quick?.description.contains("no answer within 0.5 seconds") == true)
        for bad in ["0", "-1", "soon", "nan"] {
            let e = await #expect(throws: SweepStoreError.self) {
                try await PostgresSweepStore(url: "postgres://u:p@127.0.0.1:1/db?connect_timeout=\(bad)")
            }
            #expect(e?.description.contains("connect_timeout must be a number of seconds in (0, 86400], found '\(bad)'") == true)
        }
    }
}
