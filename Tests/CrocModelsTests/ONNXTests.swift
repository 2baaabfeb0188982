import CrocData
import Foundation
import Testing

@testable import CrocModels

/// Whether ONNX Runtime is configured (CI installs the `onnxruntime` wheel and sets it).
let onnxRuntimePath = ProcessInfo.processInfo.environment["CROCBOT_ONNXRUNTIME"]

@Suite("ONNX models")
struct ONNXTests {
    @Test("without a configured runtime, loading is a typed error naming the fix")
    func missingRuntime() {
        let e = #expect(throws: ModelError.self) { try ONNXRuntime.load(path: "/nonexistent/libonnxruntime.so") }
        #expect(e?.detail.contains("cannot load ONNX Runtime") == true)
        let notOrt = #expect(throws: ModelError.self) { try ONNXRuntime.load(path: "/lib/x86_64-linux-gnu/libc.so.6") }
        #expect(notOrt?.detail.contains("OrtGetApiBase") == true)
    }

    @Test(
        "an ONNX model gives onnxruntime's outputs, equals the same logistic model in Swift, and travels in a bundle",
        .enabled(if: onnxRuntimePath != nil, "set CROCBOT_ONNXRUNTIME (see scripts/onnx_reference.py)")
    )
    func logistic() throws {
        let runtime = try ONNXRuntime.load()
        #expect(!runtime.version.isEmpty)
        let model = try ONNXModel(
            path: fixtures.appendingPathComponent("logistic.onnx").path,
            task: .binaryClassification,
            inputWidth: 6,
            outputName: "probability"
        )
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("onnx_reference.json"))) as! [String: Any]
        let inputs = ref["inputs"] as! [[Double]]
        let outputs = ref["outputs"] as! [Double]
        let sk = Reference.shared.fit("logistic_C_0.5")
        let swiftModel = LogisticRegression(coefficients: sk["coef"] as! [Double], intercept: sk["intercept"] as! Double)
        for (x, y) in zip(inputs, outputs) {
            let p = model.predict(x)
            #expect(abs(p - y) < 1e-6, "ours \(p), onnxruntime \(y)")
            #expect(abs(p - swiftModel.predict(x)) < 1e-5)  // float32 graph vs float64 Swift
        }
        // In a bundle: the ONNX bytes travel in weights.bin and reload through the runtime.
        let def = try FeaturePipelineDefinition(features: (0..<6).map { FeatureSpec(name: "x\($0)", indicator: .price) })
        let bundle = ModelBundle(
            metadata: ModelMetadata(name: "onnx", kind: .onnx, task: .binaryClassification),
            features: def,
            scaler: .none,
            label: LabelDefinition(),
            model: model
        )
        let dir = tempDirectory()
        try bundle.save(to: dir)
        let back = try ModelBundle.load(from: dir)
        #expect(back.model.kind == .onnx)
        #expect(back.model.predict(inputs[0]) == model.predict(inputs[0]))
        // A wrong output name is ONNX Runtime's error, surfaced as a typed error.
        let bad = try ONNXModel(
            path: fixtures.appendingPathComponent("logistic.onnx").path,
            task: .binaryClassification,
            inputWidth: 6,
            outputName: "nope"
        )
        let e = #expect(throws: ModelError.self) { try inputs[0].withUnsafeBufferPointer { try bad.run($0) } }
        #expect(e?.detail.contains("ONNX Runtime Run") == true)
        #expect(bad.predict(inputs[0]).isNaN)
        #expect(throws: ModelError.self) { try ONNXModel(bytes: [1, 2, 3], task: .binaryClassification, inputWidth: 6) }
    }
}
