import CrocCore
import CrocData
import CrocModels
import Foundation

/// Runs a portfolio RL policy (trained on `PortfolioEnvironment`) as a
/// strategy, in backtests, sweeps, paper and live: each symbol's bars go
/// through the bundle's feature pipeline (streaming), the last `window`
/// vectors of every symbol (0 where a value is undefined or the symbol had no
/// bar, as in training) plus the current weights form the observation the
/// environment gave, and the policy's mean output, through a softmax with
/// cash last, is the rebalance's target weights. It decides on every slice
/// from the first at which the windows are full, as the environment does.
///
/// Registered as `rl_portfolio`; the run's symbols must be the bundle's, in
/// its order.
public struct RLPortfolioStrategy: Strategy {
    /// The bundle.
    public let bundle: RLModelBundle
    private let width: Int
    private let window: Int
    private var streams: [FeatureStream] = []
    /// Per lane, the last `window` vectors (ring of rows).
    private var windows: [[Double]] = []
    private var slices = 0
    private var weights: [Double] = []

    /// Creates the strategy.
    /// - Precondition: the bundle is a portfolio policy (`environment.symbols` set).
    public init(bundle: RLModelBundle) {
        precondition(bundle.environment.symbols != nil, "a portfolio policy")
        self.bundle = bundle
        self.width = FeaturePipeline(bundle.environment.features).width
        self.window = bundle.environment.window
    }

    /// `rl_portfolio(<name>)`.
    public var name: String { "rl_portfolio(\(bundle.metadata.name))" }

    /// Feature warm-up plus the window.
    public var warmupBars: Int { FeaturePipeline(bundle.environment.features).warmup + window - 1 }

    /// A single-instrument run is a universe of one symbol.
    public mutating func onBar(_ bar: Bar, context: inout StrategyContext) throws {
        try onSlice(MarketSlice(time: bar.timestamp, lanes: [0], bars: [bar]), context: &context)
    }

    public mutating func onSlice(_ slice: MarketSlice, context: inout StrategyContext) throws {
        let n = context.symbols.count
        if streams.isEmpty {
            streams = Array(repeating: FeaturePipeline(bundle.environment.features).makeStream(), count: n)
            windows = Array(repeating: [Double](repeating: 0, count: window * width), count: n)
            weights = [Double](repeating: 0, count: n + 1)
        }
        let slot = (slices % window) * width
        var j = 0
        for k in 0..<n {
            if j < slice.lanes.count && slice.lanes[j] == k {
                let v = streams[k].update(slice.bars[j])
                for c in 0..<width { windows[k][slot + c] = v[c].isFinite ? v[c] : 0 }
                j += 1
            } else {
                for c in 0..<width { windows[k][slot + c] = 0 }
            }
        }
        let t = slices
        slices += 1
        guard t >= warmupBars else { return }
        // The observation: every symbol's window oldest first, then the weights (cash last).
        var obs = [Double]()
        obs.reserveCapacity(n * window * width + n + 1)
        for k in 0..<n {
            for age in stride(from: window - 1, through: 0, by: -1) {
                let row = ((t - age) % window) * width
                obs.append(contentsOf: windows[k][row..<(row + width)])
            }
        }
        let equity = max(1e-9, context.equity.doubleValue)
        var invested = 0.0
        for k in 0..<n {
            let q = k == 0 ? context.position : context.positions[k]
            let w = q.raw == 0 ? 0 : (q * context.closes[k]).doubleValue / equity
            obs.append(w)
            invested += w
        }
        obs.append(1 - invested)
        guard case .vector(let raw) = bundle.action(obs), raw.count == n + 1 else { return }
        Self.softmax(raw, into: &weights)
        try context.rebalance(weights: Array(weights[0..<n]))
    }

    /// The softmax of `raw` into `out`: a policy's outputs as weights (the environment's
    /// `PortfolioEnvironment.weights` is this, so training and trading agree bit for bit).
    /// Non-finite outputs get 0.
    /// - Precondition: `out` is at least as long as `raw`.
    public static func softmax(_ raw: [Double], into out: inout [Double]) {
        var m = -Double.infinity
        for x in raw where x.isFinite { m = max(m, x) }
        if !m.isFinite { m = 0 }
        var sum = 0.0
        for k in raw.indices {
            let e = raw[k].isFinite ? exp(raw[k] - m) : 0
            out[k] = e
            sum += e
        }
        if sum > 0 { for k in raw.indices { out[k] /= sum } }
    }
}
