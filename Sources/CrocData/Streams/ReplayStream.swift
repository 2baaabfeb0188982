import CrocCore

/// How fast a replay runs.
public enum ReplaySpeed: Sendable, Hashable {
    /// No waiting between bars.
    case asFastAsPossible
    /// Wall-clock time scaled: `60` plays an hour of bars in a minute.
    case scaled(Double)

    /// The wait between two bars.
    public func delay(from previous: Timestamp, to next: Timestamp) -> Duration {
        switch self {
        case .asFastAsPossible:
            return .zero
        case .scaled(let factor):
            guard factor > 0, factor.isFinite, next > previous else { return .zero }
            let nanos = Double(next.nanoseconds - previous.nanoseconds) / factor
            return .nanoseconds(Int64(nanos.rounded()))
        }
    }
}

/// Replays a historical series as a live stream, at a chosen speed.
public struct ReplayStream: MarketDataStream {
    /// The element type.
    public typealias Element = MarketEvent

    /// The bars replayed.
    public let series: BarSeries
    /// The pace.
    public let speed: ReplaySpeed
    private let sleep: @Sendable (Duration) async throws -> Void

    /// Creates a replay.
    /// - Parameters:
    ///   - series: The bars.
    ///   - speed: The pace (default: as fast as possible).
    ///   - sleep: How to wait (injectable for tests; default `Task.sleep`).
    public init(
        series: BarSeries,
        speed: ReplaySpeed = .asFastAsPossible,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.series = series
        self.speed = speed
        self.sleep = sleep
    }

    /// Loads `source` and replays it.
    /// - Throws: the source's loading error.
    public init(source: any MarketDataSource, speed: ReplaySpeed = .asFastAsPossible) throws {
        self.init(series: try source.loadBars(), speed: speed)
    }

    /// Iterates the bars in time order, waiting between them.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let series: BarSeries
        let speed: ReplaySpeed
        let sleep: @Sendable (Duration) async throws -> Void
        var index = 0

        /// The next bar, or nil at the end.
        /// - Throws: `CancellationError` when cancelled while waiting.
        public mutating func next() async throws -> MarketEvent? {
            guard index < series.count else { return nil }
            if index > 0 {
                let d = speed.delay(from: Timestamp(nanoseconds: series.timestamps[index - 1]), to: Timestamp(nanoseconds: series.timestamps[index]))
                if d > .zero { try await sleep(d) }
            }
            try Task.checkCancellation()
            defer { index += 1 }
            return .bar(series[index])
        }
    }

    /// An iterator from the first bar.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(series: series, speed: speed, sleep: sleep) }
}
