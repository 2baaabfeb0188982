/// `count` copies of an environment stepped together (Gymnasium's vector
/// environments): one action per copy in, one result per copy out. A copy
/// whose episode ends is reset at once (autoreset); its result carries the
/// new episode's first observation, and the ending one is kept in
/// `finalObservations`.
public struct VectorEnvironment<E: Environment>: Sendable {
    /// The copies.
    public private(set) var environments: [E]
    /// For each copy, the last observation of the episode that ended on the latest step (nil otherwise).
    public private(set) var finalObservations: [[Double]?]
    private var seeds: [UInt64]

    /// Creates `count` copies from `make(index)`.
    public init(count: Int, make: (Int) -> E) {
        environments = (0..<max(1, count)).map(make)
        finalObservations = Array(repeating: nil, count: environments.count)
        seeds = Array(repeating: 0, count: environments.count)
    }

    /// Number of copies.
    public var count: Int { environments.count }

    /// Resets every copy; copy `i` gets seed `seed + i`.
    public mutating func reset(seed: UInt64) -> [[Double]] {
        seeds = (0..<count).map { seed &+ UInt64($0) }
        return (0..<count).map { environments[$0].reset(seed: seeds[$0]) }
    }

    /// Steps every copy with its action; finished copies are reset.
    /// - Precondition: one action per copy.
    public mutating func step(_ actions: [Action]) -> [StepResult] {
        precondition(actions.count == count, "one action per environment copy")
        var results: [StepResult] = []
        results.reserveCapacity(count)
        for i in 0..<count {
            var r = environments[i].step(actions[i])
            if r.terminated || r.truncated {
                finalObservations[i] = r.observation
                r.observation = environments[i].reset(seed: nil)
            } else {
                finalObservations[i] = nil
            }
            results.append(r)
        }
        return results
    }
}
