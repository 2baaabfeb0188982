import Foundation
import Testing

@testable import CrocModels

@Suite("CartPole-v1")
struct CartPoleTests {
    @Test("every recorded Gymnasium step is reproduced from the same state: state to 1e-12, reward, termination, truncation")
    func matchesGymnasium() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("cartpole.json"))) as! [String: Any]
        var worst = 0.0
        for c in json["cases"] as! [[String: Any]] {
            let actions = c["actions"] as! [Int]
            let states = c["states"] as! [[Double]]
            let terminated = c["terminated"] as! [Bool]
            let truncated = c["truncated"] as! [Bool]
            var env = CartPole()
            for (t, a) in actions.enumerated() {
                // One step from Gymnasium's own previous state: chaos cannot amplify a last-bit difference.
                _ = env.reset(state: t == 0 ? c["start"] as! [Double] : states[t - 1], steps: t)
                let r = env.step(.discrete(a))
                for k in 0..<4 { worst = max(worst, abs(r.observation[k] - states[t][k]) / max(1, abs(states[t][k]))) }
                #expect(r.reward == 1)
                #expect(r.terminated == terminated[t] && r.truncated == truncated[t], "\(c["policy"]!) step \(t)")
            }
        }
        #expect(worst <= 1e-12, "worst relative difference \(worst)")
    }

    @Test("a full episode under the recorded balancing controller lasts to the 500-step limit, as in Gymnasium")
    func truncation() {
        var env = CartPole()
        var s = env.reset(seed: 1)
        var steps = 0
        while true {
            let r = env.step(.discrete(s[2] + 0.5 * s[3] > 0 ? 1 : 0))
            steps += 1
            s = r.observation
            if r.terminated || r.truncated {
                #expect(r.truncated && !r.terminated)
                break
            }
        }
        #expect(steps == 500)
    }

    @Test("resets are seeded and start inside ±0.05")
    func reset() {
        var a = CartPole()
        var b = CartPole()
        let s1 = a.reset(seed: 3)
        #expect(s1 == b.reset(seed: 3))
        #expect(s1.allSatisfy { abs($0) <= 0.05 })
        #expect(a.reset(seed: 4) != s1)
    }
}

@Suite("VectorEnvironment")
struct VectorEnvironmentTests {
    @Test("copies step like independent environments and reset themselves when an episode ends")
    func vector() {
        var vec = VectorEnvironment(count: 3) { _ in CartPole() }
        let first = vec.reset(seed: 10)
        var singles = (0..<3).map { _ in CartPole() }
        for i in 0..<3 { #expect(first[i] == singles[i].reset(seed: 10 + UInt64(i))) }
        var resets = 0
        for _ in 0..<40 {
            let results = vec.step([.discrete(1), .discrete(0), .discrete(1)])
            for i in 0..<3 {
                let single = singles[i].step(.discrete(i == 1 ? 0 : 1))
                if single.terminated || single.truncated {
                    #expect(vec.finalObservations[i] == single.observation)
                    resets += 1
                    _ = singles[i].reset(seed: nil)
                } else {
                    #expect(results[i].observation == single.observation)
                    #expect(vec.finalObservations[i] == nil)
                }
            }
        }
        #expect(resets >= 3)  // always pushing one way ends episodes quickly
    }
}
