// Importance weights and the effective sample size (method.md §8.3–§8.4):
//   log w = −u(x)/kT − log q(x)    (constants irrelevant),   infinite energy → weight 0
//   ESS = exp(2 LSE(log w) − LSE(2 log w)) / M   over the M valid samples (Kish, normalised)
import Foundation

public enum Reweighting {
    public static func logSumExp(_ values: [Double]) -> Double {
        guard let top = values.max(), top.isFinite else { return values.max() ?? -.infinity }
        return top + log(values.reduce(0) { $0 + exp($1 - top) })
    }

    /// Normalised Kish ESS of log weights (−∞ entries count as samples of weight 0).
    public static func effectiveSampleSize(logWeights: [Double]) -> Double {
        guard !logWeights.isEmpty else { return 0 }
        let first = logSumExp(logWeights), second = logSumExp(logWeights.map { 2 * $0 })
        guard first.isFinite, second.isFinite else { return 0 }
        return exp(2 * first - second) / Double(logWeights.count)
    }
}
