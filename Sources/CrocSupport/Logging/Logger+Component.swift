import Logging

extension Logger {
    /// This logger with a `component` metadata value: how a library part (the executor, the
    /// venue client, the status server) logs under the logger it was given — same handler,
    /// level and metadata — instead of constructing its own (swift-log's guidance for libraries).
    /// - Parameter name: The part, e.g. `executor`; JSON logs carry it as `metadata.component`.
    public func component(_ name: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = .string(name)
        return copy
    }
}
