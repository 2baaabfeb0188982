import CrocCore
import CrocData
import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocModels

func tempDirectory() -> String {
    testTemporaryURL().appendingPathComponent("croc-\(UUID().uuidString)").path
}

func smallBundle() throws -> ModelBundle {
    let def = try FeaturePipelineDefinition.parse(
        text: "[{name: r, indicator: returns, lags: [1]}, {name: z, indicator: zscore, params: {period: 5}}]"
    )
    var rows: [[Double]] = []
    var y: [Double] = []
    for i in 0..<200 {
        let a = sin(Double(i))
        let b = cos(Double(i) / 3)
        rows.append([a, b, Double(i % 7) / 7])
        y.append(a + b > 0 ? 1 : 0)
    }
    let x = Matrix(rows)
    var p = GBDTParameters()
    p.rounds = 10
    p.minSamplesLeaf = 5
    let model = try GradientBoostedTrees.fit(Dataset(x: x, y: y), parameters: p)
    return ModelBundle(
        metadata: ModelMetadata(name: "t", kind: .gbdt, task: .binaryClassification, metrics: ["test.auc": 0.7, "test.precision": .nan]),
        features: def,
        scaler: .standard(StandardScaler(mean: [0, 0, 0], scale: [1, 2, 3])),
        label: LabelDefinition(kind: .sign, horizon: 3),
        model: model
    )
}

@Suite("ModelBundle")
struct BundleTests {
    @Test("saves and loads: same predictions, metadata, features, scaler and label")
    func roundTrip() throws {
        let bundle = try smallBundle()
        let dir = tempDirectory()
        try bundle.save(to: dir)
        let back = try ModelBundle.load(from: dir)
        #expect(back.metadata.name == bundle.metadata.name && back.metadata.kind == .gbdt && back.metadata.createdAt == bundle.metadata.createdAt)
        #expect(back.metadata.metrics["test.auc"] == 0.7)
        #expect(back.features == bundle.features)
        #expect(back.scaler == bundle.scaler)
        #expect(back.label == bundle.label)
        for v in [[0.1, 0.2, 0.3], [-1, 2, 0.5]] { #expect(back.model.predict(v) == bundle.model.predict(v)) }
        #expect(back.metadata.metrics["test.precision"]?.isNaN == true)
    }

    @Test("corrupt, truncated, foreign or future bundles are refused with a reason")
    func corruption() throws {
        let dir = tempDirectory()
        try smallBundle().save(to: dir)
        let weights = URL(fileURLWithPath: dir).appendingPathComponent("weights.bin")
        let manifest = URL(fileURLWithPath: dir).appendingPathComponent("bundle.json")
        let original = try Data(contentsOf: weights)
        var flipped = original
        flipped[flipped.count / 2] ^= 0x20
        try flipped.write(to: weights)
        #expect((#expect(throws: BundleError.self) { try ModelBundle.load(from: dir) })?.code == .checksumMismatch)
        try original.dropLast(5).write(to: weights)
        #expect((#expect(throws: BundleError.self) { try ModelBundle.load(from: dir) })?.code == .checksumMismatch)
        try original.write(to: weights)
        let text = try String(contentsOf: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 99").write(
            to: manifest,
            atomically: true,
            encoding: .utf8
        )
        #expect((#expect(throws: BundleError.self) { try ModelBundle.load(from: dir) })?.code == .unsupportedVersion)
        try "{\"hello\": 1}".write(to: manifest, atomically: true, encoding: .utf8)
        #expect((#expect(throws: BundleError.self) { try ModelBundle.load(from: dir) })?.code == .wrongFormat)
        #expect((#expect(throws: BundleError.self) { try ModelBundle.load(from: tempDirectory()) })?.code == .missingFile)
    }

    @Test("the adapter applies the bundle's scaler before the model and records latency")
    func adapter() throws {
        let bundle = try smallBundle()
        let adapter = InferenceAdapter(bundle: bundle)
        let raw = [0.5, 1.0, 1.5]
        let scaled = [0.5, 0.5, 0.5]  // (x − 0) / [1, 2, 3]
        #expect(adapter.predict(raw) == bundle.model.predict(scaled))
        for _ in 0..<100 { _ = adapter.predict(raw) }
        // A batch: the same scaler arithmetic per row, the same scores as row by row.
        let rows = [raw, [2.0, -1.0, 0.25], [0, 0, 0]]
        let batch = adapter.predict(batch: Matrix(rows))
        #expect(batch.map(\.bitPattern) == rows.map { adapter.predict($0).bitPattern })
        let l = adapter.latency
        #expect(l.count == 105)  // 101 single calls, one batch, three single calls to compare
        #expect(l.p50Nanoseconds > 0 && l.p99Nanoseconds >= l.p50Nanoseconds)
    }

    @Test("labels are forward returns over the horizon and never exist past the data")
    func labels() {
        let close = [100.0, 101, 99, 99, 105]
        let sign = LabelDefinition(kind: .sign, horizon: 2)
        #expect((0..<5).map { sign.label(close, at: $0) } == [0, 0, 1, nil, nil])
        let threshold = LabelDefinition(kind: .threshold, horizon: 1, threshold: 0.005)
        #expect(threshold.label(close, at: 0) == 1 && threshold.label(close, at: 2) == 0)
        #expect(abs(LabelDefinition(kind: .value, horizon: 1).label(close, at: 0)! - 0.01) < 1e-15)
    }

    @Test("the factory validates hyperparameters by key path and matches learners to tasks")
    func factory() throws {
        let ds = Dataset(x: Matrix([[0], [1], [2], [3]]), y: [0, 0, 1, 1])
        let typo = #expect(throws: (any Error).self) {
            try ModelFactory.fit(kind: .gbdt, task: .binaryClassification, data: ds, hyperparameters: ["round": .int(3)])
        }
        #expect("\(typo!)".contains("model.params.round"))
        #expect(throws: (any Error).self) { try ModelFactory.fit(kind: .ridge, task: .binaryClassification, data: ds) }
        #expect(throws: (any Error).self) {
            try ModelFactory.fit(kind: .gbdt, task: .binaryClassification, data: ds, hyperparameters: ["learningRate": .double(-1)])
        }
        let m = try ModelFactory.fit(kind: .logistic, task: .binaryClassification, data: ds, hyperparameters: ["c": .double(10)])
        #expect(m.predict([3.0]) > 0.5 && m.predict([0.0]) < 0.5)
    }
}
