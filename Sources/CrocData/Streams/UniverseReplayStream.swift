import CrocCore

/// Replays a `Universe` as time slices: one `.slice` event per timestamp of
/// its union calendar, holding the bars of the symbols that have one then
/// (lanes are the universe's member order). A symbol without a bar at a time
/// is absent from that slice — never a forward-filled bar.
///
/// The multi-symbol form of `ReplayStream`, for paper trading a universe
/// through the live loop (`crocbot live --paper --universe`).
public struct UniverseReplayStream: MarketDataStream {
    /// The element type.
    public typealias Element = MarketEvent

    /// The universe replayed.
    public let universe: Universe
    /// The pace.
    public let speed: ReplaySpeed
    private let sleep: @Sendable (Duration) async throws -> Void

    /// Creates a replay.
    /// - Parameters:
    ///   - universe: The symbols and their bars.
    ///   - speed: The pace (default: as fast as possible).
    ///   - sleep: How to wait (injectable for tests; default `Task.sleep`).
    public init(
        universe: Universe,
        speed: ReplaySpeed = .asFastAsPossible,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.universe = universe
        self.speed = speed
        self.sleep = sleep
    }

    /// Iterates the slices in time order, waiting between them.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let universe: Universe
        let speed: ReplaySpeed
        let sleep: @Sendable (Duration) async throws -> Void
        var row = 0
        var cursors: [Int]

        /// The next slice, or nil at the end.
        /// - Throws: `CancellationError` when cancelled while waiting.
        public mutating func next() async throws -> MarketEvent? {
            guard row < universe.timestamps.count else { return nil }
            let time = universe.timestamps[row]
            if row > 0 {
                let d = speed.delay(from: Timestamp(nanoseconds: universe.timestamps[row - 1]), to: Timestamp(nanoseconds: time))
                if d > .zero { try await sleep(d) }
            }
            try Task.checkCancellation()
            row += 1
            return .slice(Self.slice(of: universe, at: time, cursors: &cursors))
        }

        /// The bars at `time`, advancing each member's cursor past the bar it gives.
        static func slice(of universe: Universe, at time: Int64, cursors: inout [Int]) -> MarketSlice {
            var lanes: [Int] = []
            var bars: [Bar] = []
            for (k, member) in universe.members.enumerated() {
                let i = cursors[k]
                guard i < member.count, member.timestamps[i] == time else { continue }
                lanes.append(k)
                bars.append(member[i])
                cursors[k] = i + 1
            }
            return MarketSlice(time: Timestamp(nanoseconds: time), lanes: lanes, bars: bars)
        }
    }

    /// An iterator from the first timestamp.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(universe: universe, speed: speed, sleep: sleep, cursors: Array(repeating: 0, count: universe.count))
    }
}
