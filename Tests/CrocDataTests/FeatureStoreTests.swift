import CrocCore
import CrocTestSupport
import Foundation
import Testing

@testable import CrocData

func testBar(_ i: Int, close: Double = 1) -> Bar {
    TestBars.bar(i, close: close)
}

@Suite("RollingFeatureStore")
struct FeatureStoreTests {
    @Test("keeps the last `window` rows, oldest first, as one contiguous matrix")
    func window() throws {
        let store = RollingFeatureStore(window: 4, width: 2)
        for i in 0..<10 { try store.append(symbol: "A", bar: testBar(i, close: Double(i)), features: [Double(i), Double(i) * 10]) }
        #expect(store.count(for: "A") == 4)
        #expect(store.latestVector(for: "A") == [9, 90])
        #expect(store.latestBar(for: "A")?.close == 9)
        let rows = store.withWindow(for: "A") { w -> [Double] in
            #expect(w.count == 4 && w.width == 2)
            #expect(w[0, 0] == 6 && w[3, 1] == 90)
            #expect(w.bars.map(\.close) == [6, 7, 8, 9])
            return Array(w.matrix)
        }
        #expect(rows == [6, 60, 7, 70, 8, 80, 9, 90])
        #expect(store.withWindow(for: "B") { _ in 1 } == nil)
        #expect(store.latestVector(for: "B") == nil)
    }

    @Test("a partly filled window holds only what was appended")
    func partial() throws {
        let store = RollingFeatureStore(window: 256, width: 1)
        try store.append(symbol: "A", bar: testBar(0), features: [1])
        try store.append(symbol: "A", bar: testBar(1), features: [2])
        #expect(store.withWindow(for: "A") { Array($0.matrix) } == [1, 2])
        #expect(store.symbols == ["A"])
    }

    @Test("wrong widths and out-of-order bars are typed errors")
    func errors() throws {
        let store = RollingFeatureStore(window: 8, width: 3)
        let wide = #expect(throws: FeatureStoreError.self) { try store.append(symbol: "A", bar: testBar(0), features: [1, 2]) }
        #expect(wide?.code == .wrongWidth)
        try store.append(symbol: "A", bar: testBar(5), features: [1, 2, 3])
        let old = #expect(throws: FeatureStoreError.self) { try store.append(symbol: "A", bar: testBar(5), features: [1, 2, 3]) }
        #expect(old?.code == .outOfOrder)
        #expect(store.count(for: "A") == 1)
    }

    @Test("concurrent writers on many symbols and concurrent readers stay consistent")
    func concurrency() async throws {
        let store = RollingFeatureStore(window: 16, width: 4)
        let symbols = (0..<8).map { "S\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in symbols {
                group.addTask {
                    for i in 0..<2000 {
                        try store.append(symbol: s, bar: testBar(i, close: Double(i)), features: [Double(i), Double(i), Double(i), Double(i)])
                    }
                }
                group.addTask {
                    for _ in 0..<2000 {
                        // Every row a reader sees is internally consistent and in time order.
                        store.withWindow(for: s) { w in
                            for r in 0..<w.count {
                                let row = w.row(r)
                                precondition(row.allSatisfy { $0 == row[0] } && w.bars[r].close == row[0])
                                if r > 0 { precondition(w[r, 0] == w[r - 1, 0] + 1) }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for s in symbols {
            #expect(store.count(for: s) == 16)
            #expect(store.latestVector(for: s) == [1999, 1999, 1999, 1999])
            #expect(store.withWindow(for: s) { $0[0, 0] } == 1984)
        }
    }
}

@Suite("Scalers")
struct ScalerTests {
    func matrix(_ columns: [[Double]]) -> FeatureMatrix {
        FeatureMatrix(
            rows: columns[0].count,
            columnNames: columns.indices.map { "c\($0)" },
            timestamps: columns[0].indices.map { Int64($0) },
            values: columns.flatMap { $0 }
        )
    }

    @Test("standard scaler: fitted on the training rows only, applied unchanged later")
    func standard() throws {
        let m = matrix([[.nan, 1, 2, 3, 100], [.nan, 5, 5, 5, 7]])
        let s = try StandardScaler.fit(m, rows: 0..<4)  // row 0 (NaN) skipped, row 4 is "test"
        #expect(s.mean == [2, 5])
        #expect(abs(s.scale[0] - (2.0 / 3.0).squareRoot()) < 1e-15)
        #expect(s.scale[1] == 1)  // zero variance: only centred
        var v = [100.0, 7]
        s.transform(&v)
        #expect(abs(v[0] - 98 / (2.0 / 3.0).squareRoot()) < 1e-12)
        #expect(v[1] == 2)
        let t = s.transform(m)
        #expect(t[0, 0].isNaN)
        #expect(t[2, 0] == 0)
    }

    @Test("min-max scaler maps the training range to [0, 1]")
    func minMax() throws {
        let m = matrix([[1, 3, 5, 9]])
        let s = try MinMaxScaler.fit(m, rows: 0..<3)
        var v = [9.0]
        s.transform(&v)
        #expect(v == [2])  // outside the training range: outside [0, 1]
        #expect(s.transform(m).column(0) == [0, 0.5, 1, 2])
    }

    @Test("scalers round-trip through JSON and refuse to fit on nothing")
    func codable() throws {
        let s = FeatureScaler.standard(StandardScaler(mean: [1, 2], scale: [3, 4]))
        let back = try JSONDecoder().decode(FeatureScaler.self, from: JSONEncoder().encode(s))
        #expect(back == s)
        #expect(throws: ScalerError.self) { try StandardScaler.fit(matrix([[.nan, .nan]])) }
    }
}

@Suite("Streams")
struct StreamTests {
    @Test("InMemoryStream delivers every event in order through a small buffer")
    func ordered() async throws {
        let stream = InMemoryStream(capacity: 4)
        let producer = Task {
            for i in 0..<1000 { try await stream.send(.bar(testBar(i))) }
            stream.finish()
        }
        var seen: [Int64] = []
        for await case .bar(let b) in stream { seen.append(b.timestamp.nanoseconds / 60_000_000_000) }
        try await producer.value
        #expect(seen == (0..<1000).map { Int64($0) })
    }

    @Test("a full buffer refuses trySend and holds a sender until a consumer takes an event")
    func backpressure() async throws {
        let stream = InMemoryStream(capacity: 2)
        #expect(stream.trySend(.bar(testBar(0))))
        #expect(stream.trySend(.bar(testBar(1))))
        #expect(!stream.trySend(.bar(testBar(2))))
        #expect(stream.bufferedCount == 2)
        let sender = Task { try await stream.send(.bar(testBar(2))) }
        #expect(await stream.next() == .bar(testBar(0)))  // frees a slot: the sender completes
        try await sender.value
        #expect(await stream.next() == .bar(testBar(1)))
        #expect(await stream.next() == .bar(testBar(2)))
    }

    @Test("finish drains the buffer, then ends; later sends fail")
    func finish() async {
        let stream = InMemoryStream(capacity: 8)
        stream.trySend(.bar(testBar(0)))
        stream.finish()
        #expect(await stream.next() == .bar(testBar(0)))
        #expect(await stream.next() == nil)
        await #expect(throws: StreamError.finished) { try await stream.send(.bar(testBar(1))) }
        #expect(!stream.trySend(.bar(testBar(1))))
    }

    @Test("a sender waiting on a full buffer can be cancelled")
    func cancelSender() async {
        let stream = InMemoryStream(capacity: 1)
        stream.trySend(.bar(testBar(0)))
        let sender = Task { try await stream.send(.bar(testBar(1))) }
        sender.cancel()
        await #expect(throws: StreamError.cancelled) { try await sender.value }
        #expect(stream.bufferedCount == 1)
    }

    @Test("replay yields every bar in order and waits scaled wall-clock gaps")
    func replay() async throws {
        let bars = try BarSeries(symbol: "X", bars: (0..<5).map { testBar($0 * 60) })  // one hour apart
        let waits = WaitRecorder()
        let replay = ReplayStream(series: bars, speed: .scaled(3600), sleep: { await waits.record($0) })
        var out: [MarketEvent] = []
        for try await e in replay { out.append(e) }
        #expect(out == (0..<5).map { .bar(testBar($0 * 60)) })
        #expect(await waits.durations == Array(repeating: .seconds(1), count: 4))
        #expect(ReplaySpeed.asFastAsPossible.delay(from: Timestamp(seconds: 0), to: Timestamp(seconds: 60)) == .zero)
        var fast: [MarketEvent] = []
        for try await e in ReplayStream(series: bars) { fast.append(e) }
        #expect(fast.count == 5)
    }
}

actor WaitRecorder {
    var durations: [Duration] = []
    func record(_ d: Duration) { durations.append(d) }
}
