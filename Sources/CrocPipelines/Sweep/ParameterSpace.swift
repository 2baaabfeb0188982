import CrocModels
import CrocSupport
import Foundation

/// The values one strategy or model parameter may take in a sweep.
public enum ParameterDomain: Sendable, Hashable {
    /// Integers `lower, lower + step, ..., ≤ upper`.
    case int(lower: Int, upper: Int, step: Int)
    /// Numbers in `[lower, upper]`: a grid of `lower + k·step` when `step` is set;
    /// random and TPE samplers draw continuously (log-uniformly when `log`).
    case double(lower: Double, upper: Double, step: Double?, log: Bool)
    /// One of the listed values.
    case choice([ConfigValue])

    /// The grid points (nil for a continuous range without a step).
    public var gridValues: [ConfigValue]? {
        switch self {
        case .int(let lo, let hi, let step):
            return stride(from: lo, through: hi, by: step).map { .int($0) }
        case .double(let lo, let hi, let step, _):
            guard let step else { return nil }
            let n = Int(((hi - lo) / step + 1e-9).rounded(.down))
            return (0...n).map { .double(Self.point(lo, step, $0)) }
        case .choice(let values):
            return values
        }
    }

    /// `lower + k·step` as the decimal it stands for: 0.4 + 1 × 0.02 is 0.42, not
    /// 0.42000000000000004, so trials show and store the values a person wrote. The sum
    /// is rounded to the decimals of `lower` and `step` (when they have at most 15 and the
    /// scaled value is exact in a double; otherwise it is left as computed).
    static func point(_ lower: Double, _ step: Double, _ k: Int) -> Double {
        let v = lower + Double(k) * step
        guard let a = decimals(lower), let b = decimals(step) else { return v }
        let scale = Foundation.pow(10, Double(max(a, b)))
        let scaled = (v * scale).rounded()
        guard abs(scaled) < 4_503_599_627_370_496 else { return v }  // 2^52: integers exact
        return scaled / scale
    }

    /// The fractional decimal digits of `x`'s shortest form (0.02 → 2, 1e-05 → 5, 250 → 0), nil above 15.
    static func decimals(_ x: Double) -> Int? {
        guard x.isFinite else { return nil }
        let text = x.magnitude.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let p = Int(text[text.index(after: e)...]) else { return nil }
            exponent = p
            mantissa = text[..<e]
        }
        let fraction = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
        var digits = max(0, fraction - exponent)
        // "3.0" has no real fractional digit.
        if mantissa.hasSuffix(".0") && exponent == 0 { digits = 0 }
        return digits <= 15 ? digits : nil
    }

    /// Points on the grid, or nil when continuous.
    public var count: Int? { gridValues?.count }
}

/// A named, ordered set of parameter domains plus fixed parameters.
///
/// Dimensions are kept sorted by name so that trial numbering does not
/// depend on the order of keys in a file: trial `i` of a grid is the same
/// parameter set on every machine and every run.
public struct ParameterSpace: Sendable, Hashable {
    /// Swept dimensions, sorted by name.
    public private(set) var dimensions: [(name: String, domain: ParameterDomain)]
    /// Parameters passed unchanged to every trial.
    public var fixed: [String: ConfigValue]
    /// Each dimension's grid values, computed once (nil where continuous).
    private let gridTable: [[ConfigValue]?]

    /// Creates a space.
    public init(_ dimensions: [String: ParameterDomain], fixed: [String: ConfigValue] = [:]) {
        self.dimensions = dimensions.keys.sorted().map { ($0, dimensions[$0]!) }
        self.fixed = fixed
        self.gridTable = self.dimensions.map(\.domain.gridValues)
    }

    /// Compares names and domains.
    public static func == (a: ParameterSpace, b: ParameterSpace) -> Bool {
        a.fixed == b.fixed && a.dimensions.map(\.name) == b.dimensions.map(\.name) && a.dimensions.map(\.domain) == b.dimensions.map(\.domain)
    }

    /// Hashes names and domains.
    public func hash(into h: inout Hasher) {
        h.combine(fixed)
        for d in dimensions {
            h.combine(d.name)
            h.combine(d.domain)
        }
    }

    /// Grid size (nil when a dimension is continuous).
    public var gridSize: Int? {
        var n = 1
        for values in gridTable {
            guard let c = values?.count else { return nil }
            n *= c
        }
        return n
    }

    /// Grid point `index` (row-major over the sorted dimensions: the last name varies fastest).
    /// - Precondition: every dimension has grid values and `index < gridSize`.
    public func gridPoint(_ index: Int) -> [String: ConfigValue] {
        var out = fixed
        var rest = index
        for k in dimensions.indices.reversed() {
            let values = gridTable[k]!
            out[dimensions[k].name] = values[rest % values.count]
            rest /= values.count
        }
        return out
    }

    /// A uniform random point (log-uniform where asked), drawn from `rng`.
    public func randomPoint(_ rng: inout some RandomNumberGenerator) -> [String: ConfigValue] {
        var out = fixed
        for d in dimensions { out[d.name] = Self.sample(d.domain, &rng) }
        return out
    }

    static func sample(_ domain: ParameterDomain, _ rng: inout some RandomNumberGenerator) -> ConfigValue {
        switch domain {
        case .int(let lo, let hi, let step):
            let k = Int.random(in: 0...((hi - lo) / step), using: &rng)
            return .int(lo + k * step)
        case .double(let lo, let hi, let step, let log):
            if let step {
                let n = Int(((hi - lo) / step + 1e-9).rounded(.down))
                return .double(ParameterDomain.point(lo, step, Int.random(in: 0...n, using: &rng)))
            }
            if log { return .double(Foundation.exp(Double.random(in: Foundation.log(lo)...Foundation.log(hi), using: &rng))) }
            return .double(Double.random(in: lo...hi, using: &rng))
        case .choice(let values):
            return values[Int.random(in: 0..<values.count, using: &rng)]
        }
    }

    /// Reads `parameters:` of a sweep file: `name: {min, max, step, log}`,
    /// `name: {values: [...]}`, `name: [a, b, c]`, or a scalar (fixed).
    /// - Throws: `ConfigError` naming the key path.
    public init(_ r: ConfigReader) throws(ConfigError) {
        var dims: [String: ParameterDomain] = [:]
        var fixed: [String: ConfigValue] = [:]
        for (name, value) in r.values {
            let path = r.childPath(name)
            func fail(_ rule: String) -> ConfigError { ConfigError(.invalidValue, keyPath: path, rule: rule, source: r.source) }
            switch value {
            case .array(let items):
                guard !items.isEmpty else { throw fail("needs at least one value") }
                dims[name] = .choice(items)
            case .object:
                let d = try r.nested(name)
                try d.rejectUnknownKeys(["min", "max", "step", "log", "values"])
                if let values = d.raw("values") {
                    guard case .array(let items) = values, !items.isEmpty else { throw fail("values: must be a non-empty list") }
                    dims[name] = .choice(items)
                    continue
                }
                guard let lo = d.raw("min"), let hi = d.raw("max") else { throw fail("needs min and max (or values)") }
                let log = try d.bool("log", default: false)
                if case .int(let l) = lo, case .int(let h) = hi, !log, d.raw("step").map({ if case .int = $0 { true } else { false } }) ?? true {
                    let step = try d.int("step", default: 1)
                    guard l <= h else { throw fail("min (\(l)) must be ≤ max (\(h))") }
                    guard step >= 1 else { throw ConfigError(.invalidValue, keyPath: d.childPath("step"), rule: "must be ≥ 1", source: r.source) }
                    dims[name] = .int(lower: l, upper: h, step: step)
                } else {
                    let l = try d.double("min", default: 0)
                    let h = try d.double("max", default: 0)
                    guard l.isFinite, h.isFinite, l <= h else { throw fail("min and max must be finite with min ≤ max") }
                    let step = d.raw("step") == nil ? nil : try d.double("step", default: 1)
                    if let step, !(step > 0) {
                        throw ConfigError(.invalidValue, keyPath: d.childPath("step"), rule: "must be > 0", source: r.source)
                    }
                    if log, l <= 0 { throw ConfigError(.invalidValue, keyPath: d.childPath("log"), rule: "needs min > 0", source: r.source) }
                    dims[name] = .double(lower: l, upper: h, step: step, log: log)
                }
            default:
                fixed[name] = value
            }
        }
        guard !dims.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: r.path, rule: "sweep at least one parameter (name: {min, max} or a list)", source: r.source)
        }
        self.init(dims, fixed: fixed)
    }
}

/// How trials are chosen.
public enum SamplerKind: String, Sendable, Hashable, CaseIterable {
    /// Every grid point.
    case grid
    /// Independent uniform draws; trial `i` depends only on the seed and `i`.
    case random
    /// Tree-structured Parzen estimator (Bergstra et al., 2011).
    case tpe
}

/// Trial `index` of a random sweep: a fresh generator seeded from (seed, index),
/// so any shard can compute any trial without the others.
public func randomTrial(_ space: ParameterSpace, seed: UInt64, index: Int) -> [String: ConfigValue] {
    var rng = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
    return space.randomPoint(&rng)
}

/// A tree-structured Parzen estimator: after `startup` random trials it
/// splits the history at the `gamma` quantile of the objective into good and
/// bad trials, models each dimension's density under both with Parzen
/// windows (Gaussian kernels on numbers, smoothed counts on choices, each
/// mixed with the uniform prior), draws `candidates` points from the good
/// density and proposes the one with the largest good/bad ratio.
/// Infeasible trials count as bad.
public struct TPESampler: Sendable {
    /// Random trials before the model is used.
    public var startup: Int
    /// Share of trials that count as good.
    public var gamma: Double
    /// Candidates drawn per proposal.
    public var candidates: Int

    /// Creates a sampler with Hyperopt's usual settings.
    public init(startup: Int = 10, gamma: Double = 0.25, candidates: Int = 24) {
        self.startup = startup
        self.gamma = gamma
        self.candidates = candidates
    }

    /// Proposes a point given finished trials (`objective` nil when infeasible; larger is better).
    public func propose(
        _ space: ParameterSpace,
        history: [(parameters: [String: ConfigValue], objective: Double?)],
        rng: inout some RandomNumberGenerator
    ) -> [String: ConfigValue] {
        guard history.count >= startup else { return space.randomPoint(&rng) }
        let ranked = history.enumerated().sorted { a, b in
            switch (a.element.objective, b.element.objective) {
            case (let x?, let y?): return x != y ? x > y : a.offset < b.offset
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a.offset < b.offset
            }
        }
        let feasible = history.filter { $0.objective != nil }.count
        let nGood = max(1, min(feasible, Int((gamma * Double(history.count)).rounded(.up))))
        let good = ranked.prefix(nGood).map(\.element.parameters)
        let bad = ranked.dropFirst(nGood).map(\.element.parameters)
        var best: [String: ConfigValue] = space.fixed
        var bestScore = -Double.infinity
        for _ in 0..<candidates {
            var point = space.fixed
            var score = 0.0
            for d in space.dimensions {
                let g = good.compactMap { $0[d.name] }
                let b = bad.compactMap { $0[d.name] }
                let x = Self.sampleParzen(d.domain, around: g, &rng)
                point[d.name] = x
                score += Self.logDensity(d.domain, x, g) - Self.logDensity(d.domain, x, b)
            }
            if score > bestScore {
                bestScore = score
                best = point
            }
        }
        return best
    }

    /// Numeric position of a value in the dimension's (log) scale.
    static func position(_ domain: ParameterDomain, _ v: ConfigValue) -> Double {
        switch domain {
        case .double(_, _, _, true): return Foundation.log(v.doubleValue ?? 1)
        default: return v.doubleValue ?? 0
        }
    }

    static func bounds(_ domain: ParameterDomain) -> (Double, Double) {
        switch domain {
        case .int(let lo, let hi, _): return (Double(lo), Double(hi))
        case .double(let lo, let hi, _, let log): return log ? (Foundation.log(lo), Foundation.log(hi)) : (lo, hi)
        case .choice(let v): return (0, Double(v.count - 1))
        }
    }

    static func bandwidth(_ domain: ParameterDomain, count: Int) -> Double {
        let (lo, hi) = bounds(domain)
        return max((hi - lo) / Double(max(1, count)).squareRoot(), (hi - lo) * 0.01, 1e-12)
    }

    static func sampleParzen(_ domain: ParameterDomain, around points: [ConfigValue], _ rng: inout some RandomNumberGenerator) -> ConfigValue {
        if case .choice(let values) = domain {
            // Smoothed counts: each value weight 1 + occurrences among the good points.
            var weights = values.map { v in 1.0 + Double(points.filter { $0 == v }.count) }
            let total = weights.reduce(0, +)
            var u = Double.random(in: 0..<total, using: &rng)
            for (i, w) in weights.enumerated() {
                if u < w { return values[i] }
                u -= w
            }
            weights.removeAll()
            return values[values.count - 1]
        }
        // Mixture: the prior with weight 1, one Gaussian per point.
        let k = Int.random(in: 0...points.count, using: &rng)
        guard k < points.count else { return ParameterSpace.sample(domain, &rng) }
        let (lo, hi) = bounds(domain)
        let sigma = bandwidth(domain, count: points.count)
        // A Gaussian truncated to the bounds (redrawn, not clipped: clipping piles mass on the edges).
        var x = position(domain, points[k])
        for _ in 0..<32 {
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            let candidate = x + sigma * (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
            if candidate >= lo && candidate <= hi {
                x = candidate
                break
            }
        }
        return snap(domain, min(hi, max(lo, x)))
    }

    /// A position back to a legal value of the domain.
    static func snap(_ domain: ParameterDomain, _ x: Double) -> ConfigValue {
        switch domain {
        case .int(let lo, let hi, let step):
            let k = ((x - Double(lo)) / Double(step)).rounded()
            return .int(min(hi, max(lo, lo + Int(k) * step)))
        case .double(let lo, let hi, let step, let log):
            var v = log ? Foundation.exp(x) : x
            if let step { v = ParameterDomain.point(lo, step, Int(((v - lo) / step).rounded())) }
            return .double(min(hi, max(lo, v)))
        case .choice(let values):
            return values[min(values.count - 1, max(0, Int(x.rounded())))]
        }
    }

    static func logDensity(_ domain: ParameterDomain, _ x: ConfigValue, _ points: [ConfigValue]) -> Double {
        if case .choice(let values) = domain {
            let w = 1.0 + Double(points.filter { $0 == x }.count)
            return Foundation.log(w / (Double(values.count) + Double(points.count)))
        }
        let (lo, hi) = bounds(domain)
        let width = max(hi - lo, 1e-12)
        let sigma = bandwidth(domain, count: points.count)
        let p = position(domain, x)
        var density = 1 / width  // the prior
        for q in points {
            let z = (p - position(domain, q)) / sigma
            density += Foundation.exp(-0.5 * z * z) / (sigma * (2 * .pi).squareRoot())
        }
        return Foundation.log(density / Double(points.count + 1))
    }
}
