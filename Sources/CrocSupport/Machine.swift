import Foundation

/// What the machine offers this process, read once.
public enum Machine {
    /// The cores this process may run on, read at first use. `ProcessInfo.activeProcessorCount`
    /// asks the kernel for the affinity mask on every call (about 10 µs on Linux), which code
    /// that sizes its threads per call — every rebalance of `model_topk`, every PPO minibatch —
    /// paid each time.
    public static let activeCores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
