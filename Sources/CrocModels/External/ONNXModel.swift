import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ONNX Runtime C library, loaded at run time with `dlopen`.
///
/// CrocBot does not link against ONNX Runtime and ships none of its files:
/// point `CROCBOT_ONNXRUNTIME` (or `path`) at `libonnxruntime.so` — for
/// example the one inside the `onnxruntime` PyPI wheel
/// (`.../site-packages/onnxruntime/capi/libonnxruntime.so.1.x`). The C API is
/// a table of function pointers returned by `OrtGetApiBase()->GetApi(version)`;
/// ONNX Runtime only ever appends to it, so the fixed offsets used here
/// (`Offset`) stay valid for every release that serves API version 17+.
public final class ONNXRuntime: @unchecked Sendable {
    // @unchecked: immutable after init; ONNX Runtime's env and sessions are thread-safe for Run.
    /// The library's version string.
    public let version: String
    let api: UnsafePointer<UnsafeRawPointer?>
    let env: OpaquePointer
    private let handle: UnsafeMutableRawPointer

    /// The API version requested (ONNX Runtime 1.17+).
    static let apiVersion: UInt32 = 17

    /// Zero-based positions in the `OrtApi` function table.
    enum Offset {
        static let getErrorMessage = 2
        static let createEnv = 3
        static let createSessionFromArray = 8
        static let run = 9
        static let createSessionOptions = 10
        static let setIntraOpNumThreads = 24
        static let createTensorWithDataAsOrtValue = 49
        static let getTensorMutableData = 51
        static let createCpuMemoryInfo = 69
        static let releaseEnv = 92
        static let releaseStatus = 93
        static let releaseMemoryInfo = 94
        static let releaseSession = 95
        static let releaseValue = 96
        static let releaseSessionOptions = 100
    }

    typealias StatusFn = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?
    typealias ReleaseFn = @convention(c) (OpaquePointer?) -> Void
    typealias CreateEnvFn = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer?
    typealias CreateOptionsFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer?
    typealias SetThreadsFn = @convention(c) (OpaquePointer?, Int32) -> OpaquePointer?
    typealias CreateSessionFn =
        @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int, OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer?
    typealias CreateMemoryInfoFn = @convention(c) (Int32, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer?
    typealias CreateTensorFn =
        @convention(c) (
            OpaquePointer?, UnsafeMutableRawPointer?, Int, UnsafePointer<Int64>?, Int, Int32, UnsafeMutablePointer<OpaquePointer?>?
        ) -> OpaquePointer?
    typealias RunFn =
        @convention(c) (
            OpaquePointer?, OpaquePointer?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<OpaquePointer?>?, Int,
            UnsafePointer<UnsafePointer<CChar>?>?, Int, UnsafeMutablePointer<OpaquePointer?>?
        ) -> OpaquePointer?
    typealias TensorDataFn = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> OpaquePointer?

    func function<T>(_ offset: Int, _ type: T.Type) -> T { unsafeBitCast(api[offset]!, to: T.self) }

    /// Turns a non-null `OrtStatus` into a `ModelError` (and releases it).
    func check(_ status: OpaquePointer?, _ what: String) throws(ModelError) {
        guard let status else { return }
        let message = function(Offset.getErrorMessage, StatusFn.self)(status).map { String(cString: $0) } ?? "unknown error"
        function(Offset.releaseStatus, ReleaseFn.self)(status)
        throw ModelError(.numerical, "ONNX Runtime \(what): \(message)")
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: ONNXRuntime] = [:]

    /// The library at `path`, or at `$CROCBOT_ONNXRUNTIME` (loaded once per path).
    /// - Throws: `ModelError` when no path is configured, the file cannot be
    ///   loaded, or it does not serve the C API version needed.
    public static func load(path: String? = nil) throws(ModelError) -> ONNXRuntime {
        guard let p = path ?? ProcessInfo.processInfo.environment["CROCBOT_ONNXRUNTIME"], !p.isEmpty else {
            throw ModelError(
                .invalidData,
                "ONNX Runtime not configured: set CROCBOT_ONNXRUNTIME to libonnxruntime.so (pip install onnxruntime ships one in onnxruntime/capi/)"
            )
        }
        lock.lock()
        defer { lock.unlock() }
        if let r = loaded[p] { return r }
        let r = try ONNXRuntime(path: p)
        loaded[p] = r
        return r
    }

    private init(path: String) throws(ModelError) {
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ModelError(.invalidData, "cannot load ONNX Runtime from \(path): \(dlerror().map { String(cString: $0) } ?? "dlopen failed")")
        }
        guard let sym = dlsym(h, "OrtGetApiBase") else {
            dlclose(h)
            throw ModelError(.invalidData, "\(path) is not ONNX Runtime (no OrtGetApiBase)")
        }
        typealias GetApiBase = @convention(c) () -> UnsafePointer<UnsafeRawPointer?>?
        typealias GetApi = @convention(c) (UInt32) -> UnsafePointer<UnsafeRawPointer?>?
        typealias GetVersion = @convention(c) () -> UnsafePointer<CChar>?
        guard let base = unsafeBitCast(sym, to: GetApiBase.self)(), let getApi = base[0], let getVersion = base[1] else {
            dlclose(h)
            throw ModelError(.invalidData, "\(path): OrtGetApiBase returned nothing")
        }
        let version = unsafeBitCast(getVersion, to: GetVersion.self)().map { String(cString: $0) } ?? "?"
        guard let api = unsafeBitCast(getApi, to: GetApi.self)(Self.apiVersion) else {
            dlclose(h)
            throw ModelError(.invalidData, "ONNX Runtime \(version) at \(path) does not serve C API version \(Self.apiVersion)")
        }
        self.handle = h
        self.api = api
        self.version = version
        var env: OpaquePointer?
        let status = "crocbot".withCString { unsafeBitCast(api[Offset.createEnv]!, to: CreateEnvFn.self)(3, $0, &env) }  // 3 = error-level logging
        if let status {
            let message = unsafeBitCast(api[Offset.getErrorMessage]!, to: StatusFn.self)(status).map { String(cString: $0) } ?? "?"
            throw ModelError(.invalidData, "ONNX Runtime CreateEnv: \(message)")
        }
        self.env = env!
    }
}

/// A model in ONNX format, run through ONNX Runtime's C API: bring models
/// trained in PyTorch, scikit-learn (skl2onnx) or LightGBM.
///
/// The model takes one float tensor `[1, inputWidth]` named `inputName` and
/// its prediction is element `outputElement` of output `outputName` (for a
/// scikit-learn classifier's probabilities `[p0, p1]`, element 1).
public final class ONNXModel: Model, @unchecked Sendable {
    // @unchecked: immutable after init; ONNX Runtime sessions are thread-safe for Run.
    /// The learner kind.
    public var kind: ModelKind { .onnx }
    /// What the output means.
    public let task: ModelTask
    /// Features expected.
    public let inputWidth: Int
    /// The input tensor's name.
    public let inputName: String
    /// The output tensor's name.
    public let outputName: String
    /// Which element of the output is the prediction.
    public let outputElement: Int
    /// The serialised ONNX model.
    public let modelBytes: [UInt8]
    /// The ONNX Runtime library running it.
    public let runtime: ONNXRuntime
    private let session: OpaquePointer
    private let memoryInfo: OpaquePointer

    /// Loads a model from bytes.
    /// - Throws: `ModelError` when ONNX Runtime is missing or rejects the model.
    public init(
        bytes: [UInt8],
        task: ModelTask,
        inputWidth: Int,
        inputName: String = "input",
        outputName: String = "output",
        outputElement: Int = 0,
        runtime: ONNXRuntime? = nil
    ) throws(ModelError) {
        guard inputWidth > 0, outputElement >= 0 else { throw ModelError(.invalidHyperparameter, "inputWidth must be > 0 and outputElement ≥ 0") }
        let rt: ONNXRuntime
        if let runtime { rt = runtime } else { rt = try ONNXRuntime.load() }
        var options: OpaquePointer?
        try rt.check(rt.function(ONNXRuntime.Offset.createSessionOptions, ONNXRuntime.CreateOptionsFn.self)(&options), "CreateSessionOptions")
        defer { rt.function(ONNXRuntime.Offset.releaseSessionOptions, ONNXRuntime.ReleaseFn.self)(options) }
        try rt.check(rt.function(ONNXRuntime.Offset.setIntraOpNumThreads, ONNXRuntime.SetThreadsFn.self)(options, 1), "SetIntraOpNumThreads")
        var session: OpaquePointer?
        let status = bytes.withUnsafeBytes { b in
            rt.function(ONNXRuntime.Offset.createSessionFromArray, ONNXRuntime.CreateSessionFn.self)(
                rt.env,
                b.baseAddress,
                b.count,
                options,
                &session
            )
        }
        try rt.check(status, "CreateSession")
        var info: OpaquePointer?
        do throws(ModelError) {
            try rt.check(rt.function(ONNXRuntime.Offset.createCpuMemoryInfo, ONNXRuntime.CreateMemoryInfoFn.self)(0, 0, &info), "CreateCpuMemoryInfo")
        } catch {
            rt.function(ONNXRuntime.Offset.releaseSession, ONNXRuntime.ReleaseFn.self)(session)
            throw error
        }
        self.runtime = rt
        self.session = session!
        self.memoryInfo = info!
        self.task = task
        self.inputWidth = inputWidth
        self.inputName = inputName
        self.outputName = outputName
        self.outputElement = outputElement
        self.modelBytes = bytes
    }

    /// Loads a `.onnx` file.
    /// - Throws: `ModelError` when the file cannot be read or loaded.
    public convenience init(
        path: String,
        task: ModelTask,
        inputWidth: Int,
        inputName: String = "input",
        outputName: String = "output",
        outputElement: Int = 0
    ) throws(ModelError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(.invalidData, "cannot read \(path)") }
        try self.init(
            bytes: [UInt8](data),
            task: task,
            inputWidth: inputWidth,
            inputName: inputName,
            outputName: outputName,
            outputElement: outputElement
        )
    }

    deinit {
        runtime.function(ONNXRuntime.Offset.releaseMemoryInfo, ONNXRuntime.ReleaseFn.self)(memoryInfo)
        runtime.function(ONNXRuntime.Offset.releaseSession, ONNXRuntime.ReleaseFn.self)(session)
    }

    /// Runs the model on one vector; NaN if ONNX Runtime reports an error.
    public func predict(_ x: UnsafeBufferPointer<Double>) -> Double {
        (try? run(x)) ?? .nan
    }

    /// Runs the model on one vector.
    /// - Throws: `ModelError` with ONNX Runtime's message.
    public func run(_ x: UnsafeBufferPointer<Double>) throws(ModelError) -> Double {
        var input = [Float](repeating: 0, count: inputWidth)
        for j in 0..<min(inputWidth, x.count) { input[j] = Float(x[j]) }
        var shape: [Int64] = [1, Int64(inputWidth)]
        var tensor: OpaquePointer?
        let rt = runtime
        let created = input.withUnsafeMutableBytes { b in
            rt.function(ONNXRuntime.Offset.createTensorWithDataAsOrtValue, ONNXRuntime.CreateTensorFn.self)(
                memoryInfo,
                b.baseAddress,
                b.count,
                &shape,
                2,
                1,
                &tensor
            )  // 1 = ONNX float
        }
        try rt.check(created, "CreateTensor")
        defer { rt.function(ONNXRuntime.Offset.releaseValue, ONNXRuntime.ReleaseFn.self)(tensor) }
        var output: OpaquePointer?
        let status = inputName.withCString { inName in
            outputName.withCString { outName in
                var inNames: [UnsafePointer<CChar>?] = [inName]
                var outNames: [UnsafePointer<CChar>?] = [outName]
                var inputs: [OpaquePointer?] = [tensor]
                return rt.function(ONNXRuntime.Offset.run, ONNXRuntime.RunFn.self)(session, nil, &inNames, &inputs, 1, &outNames, 1, &output)
            }
        }
        try rt.check(status, "Run")
        defer { rt.function(ONNXRuntime.Offset.releaseValue, ONNXRuntime.ReleaseFn.self)(output) }
        var data: UnsafeMutableRawPointer?
        try rt.check(rt.function(ONNXRuntime.Offset.getTensorMutableData, ONNXRuntime.TensorDataFn.self)(output, &data), "GetTensorMutableData")
        guard let data else { throw ModelError(.numerical, "ONNX Runtime returned no output data") }
        return Double(data.assumingMemoryBound(to: Float.self)[outputElement])
    }

    struct Header: Codable {
        var task: ModelTask
        var inputWidth: Int
        var inputName: String
        var outputName: String
        var outputElement: Int
    }

    /// A JSON header (length-prefixed) followed by the ONNX bytes.
    public func encodeWeights() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // the same model, the same bytes
        let header = Array(
            (try? encoder.encode(
                Header(task: task, inputWidth: inputWidth, inputName: inputName, outputName: outputName, outputElement: outputElement)
            )) ?? Data()
        )
        var w = WeightWriter()
        w.int(header.count)
        return w.bytes + header + modelBytes
    }

    /// Reads `encodeWeights()` output and loads the model into ONNX Runtime.
    /// - Throws: `ModelError` for malformed bytes or a missing runtime.
    public static func decode(_ bytes: [UInt8]) throws(ModelError) -> ONNXModel {
        var r = WeightReader(bytes)
        let n = try r.int(max: max(0, bytes.count - 8))
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<(8 + n)]))
        } catch {
            throw ModelError(.corruptWeights, "ONNX bundle header is not valid: \(error)")
        }
        return try ONNXModel(
            bytes: Array(bytes[(8 + n)...]),
            task: header.task,
            inputWidth: header.inputWidth,
            inputName: header.inputName,
            outputName: header.outputName,
            outputElement: header.outputElement
        )
    }
}
