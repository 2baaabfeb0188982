import ArgumentParser
import CrocData
import CrocModels
import CrocSupport
import Foundation

/// `crocbot import-onnx`: wrap an ONNX model into a bundle the `model` strategy can run.
struct ImportONNXCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-onnx",
        abstract: "Wrap an ONNX model (PyTorch, scikit-learn, LightGBM exports) into a CrocBot model bundle.",
        discussion: """
            The model must take one float tensor [1, features] and the features must be the ones the
            definition makes, in order. ONNX Runtime is loaded from $CROCBOT_ONNXRUNTIME
            (pip install onnxruntime ships onnxruntime/capi/libonnxruntime.so.*).

            Examples:
              crocbot import-onnx --model model.onnx --features Examples/features-stationary.yaml \\
                  --output-name probabilities --output-element 1 --output models/imported
              crocbot backtest --strategy model --param model=models/imported
            """
    )

    @Option(name: .long, help: "The .onnx file.")
    var model: String

    @Option(name: .long, help: "Feature definition (YAML/JSON) or 'standard'.")
    var features: String = "standard"

    @Option(name: .long, help: "binary (the output is P(up)) or regression.")
    var task: String = "binary"

    @Option(name: .long, help: "Input tensor name.")
    var inputName: String = "input"

    @Option(name: .customLong("output-name"), help: "Output tensor name.")
    var outputTensor: String = "output"

    @Option(name: .long, help: "Element of the output that is the prediction (1 for [p0, p1]).")
    var outputElement: Int = 0

    @Option(name: .long, help: "Bundle name.")
    var name: String = "onnx"

    @Option(name: .long, help: "Bundle directory to write.")
    var output: String

    func run() throws {
        try Wiring.reportingErrors {
            guard let t = ModelTask(rawValue: task) else { throw ValidationError("--task must be binary or regression") }
            let definition = features == "standard" ? FeaturePipelineDefinition.standard : try FeaturePipelineDefinition.load(path: features)
            let width = FeaturePipeline(definition).width
            let onnx = try ONNXModel(
                path: model,
                task: t,
                inputWidth: width,
                inputName: inputName,
                outputName: outputTensor,
                outputElement: outputElement
            )
            // Fail now, not in a backtest: run the model once on zeros.
            _ = try [Double](repeating: 0, count: width).withUnsafeBufferPointer { try onnx.run($0) }
            let bundle = ModelBundle(
                metadata: ModelMetadata(
                    name: name,
                    kind: .onnx,
                    task: t,
                    hyperparameters: ["source": .string(model), "onnxruntime": .string(onnx.runtime.version)]
                ),
                features: definition,
                scaler: .none,
                label: LabelDefinition(kind: t == .regression ? .value : .sign),
                model: onnx
            )
            try bundle.save(to: output)
            print("wrote bundle \(output): ONNX model \(model) (\(width) features, ONNX Runtime \(onnx.runtime.version))")
        }
    }
}
