import Foundation

/// A faithful port of Gymnasium's `CartPole-v1`: the same constants, Euler
/// integration in `Double`, termination at |x| > 2.4 or |θ| > 12°, reward 1
/// per step including the terminating one, truncation at 500 steps.
///
/// Only the reset noise differs: it is drawn from CrocBot's seeded
/// generator rather than NumPy's. Each step matches Gymnasium's to ~1e-15
/// from the same state (tested against recorded trajectories); whole
/// trajectories drift apart eventually, as the system is chaotic and NumPy's
/// `sin`/`cos` may differ from the C library's in the last bit.
public struct CartPole: Environment {
    /// 9.8 m/s².
    public static let gravity = 9.8
    /// Cart mass.
    public static let massCart = 1.0
    /// Pole mass.
    public static let massPole = 0.1
    /// Half the pole's length.
    public static let length = 0.5
    /// Push force.
    public static let forceMagnitude = 10.0
    /// Seconds per step.
    public static let tau = 0.02
    /// Pole angle limit, radians (12°).
    public static let thetaThreshold = 12 * 2 * Double.pi / 360
    /// Cart position limit.
    public static let xThreshold = 2.4

    /// x, ẋ, θ, θ̇.
    public private(set) var state: [Double] = [0, 0, 0, 0]
    /// Steps taken this episode.
    public private(set) var steps = 0
    /// Truncation length (500 for v1).
    public let maxSteps: Int
    private var rng = SplitMix64(seed: 0)

    /// Creates the environment.
    public init(maxSteps: Int = 500) { self.maxSteps = maxSteps }

    /// Four values.
    public var observationSize: Int { 4 }
    /// Push left (0) or right (1).
    public var actionSpace: ActionSpace { .discrete(2) }

    /// A state drawn uniformly from [−0.05, 0.05]⁴.
    public mutating func reset(seed: UInt64? = nil) -> [Double] {
        if let seed { rng = SplitMix64(seed: seed) }
        state = (0..<4).map { _ in rng.uniform() * 0.1 - 0.05 }
        steps = 0
        return state
    }

    /// Starts from a given state and step count (for tests against recorded trajectories).
    public mutating func reset(state: [Double], steps: Int = 0) -> [Double] {
        self.state = state
        self.steps = steps
        return state
    }

    /// One Euler step of the cart-pole dynamics.
    public mutating func step(_ action: Action) -> StepResult {
        guard case .discrete(let a) = action else { return step(.discrete(0)) }
        let (x, xDot, theta, thetaDot) = (state[0], state[1], state[2], state[3])
        let force = a == 1 ? Self.forceMagnitude : -Self.forceMagnitude
        let cosTheta = cos(theta)
        let sinTheta = sin(theta)
        let totalMass = Self.massPole + Self.massCart
        let poleMassLength = Self.massPole * Self.length
        let temp = (force + poleMassLength * (thetaDot * thetaDot) * sinTheta) / totalMass
        let thetaAcc = (Self.gravity * sinTheta - cosTheta * temp) / (Self.length * (4.0 / 3.0 - Self.massPole * (cosTheta * cosTheta) / totalMass))
        let xAcc = temp - poleMassLength * thetaAcc * cosTheta / totalMass
        state = [x + Self.tau * xDot, xDot + Self.tau * xAcc, theta + Self.tau * thetaDot, thetaDot + Self.tau * thetaAcc]
        steps += 1
        let terminated =
            state[0] < -Self.xThreshold || state[0] > Self.xThreshold || state[2] < -Self.thetaThreshold || state[2] > Self.thetaThreshold
        return StepResult(observation: state, reward: 1, terminated: terminated, truncated: !terminated && steps >= maxSteps)
    }
}
