// The log-weight clip of the Prose/SBG variant of SNIS (field.md §4; Tan et al., "Scalable
// equilibrium sampling with sequential Boltzmann generators", and the transferable-samplers code:
// `mask = logits > torch.quantile(logits, 1 − clip)`, the masked samples dropped before
// resampling): the samples whose log weight lies strictly above the (1 − f) quantile are dropped,
// f = 0.002 by default (the top 0.2 %).
//
// The quantile is the linear-interpolation one of numpy/torch (their default): with the F finite
// log weights sorted, x₍₀₎ ≤ … ≤ x₍F−1₎, and h = (F − 1)(1 − f),
//   q = x₍⌊h⌋₎ + (h − ⌊h⌋)·(x₍⌊h⌋+1₎ − x₍⌊h⌋₎).
// Log weights of −∞ or NaN (an infinite energy, a failed integration) carry no weight: they take
// no part in the quantile and are never dropped by it. A log weight of +∞ (an energy of −∞, a
// force-field artefact) takes no part in the quantile either, and is always dropped.
import Foundation

public enum LogWeightClip {
    /// The linear-interpolation (1 − `fraction`) quantile of the finite `logWeights`; nil when none
    /// is finite. `fraction` in [0, 1).
    public static func threshold(logWeights: [Double], fraction: Double) -> Double? {
        precondition(fraction >= 0 && fraction < 1, "the clip fraction must be in [0, 1)")
        let sorted = logWeights.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return nil }
        let h = Double(sorted.count - 1) * (1 - fraction)
        let low = Int(h.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (h - Double(low)) * (sorted[high] - sorted[low])
    }

    /// The positions in `logWeights` that the clip keeps (ascending), and the threshold.
    /// - Returns: every position whose log weight is not above the threshold (−∞ and NaN included,
    ///   +∞ never), and the threshold (nil when no log weight is finite: nothing is dropped).
    public static func kept(logWeights: [Double], fraction: Double) -> (kept: [Int], threshold: Double?) {
        guard let threshold = threshold(logWeights: logWeights, fraction: fraction) else {
            return (logWeights.indices.filter { logWeights[$0] != .infinity }, nil)
        }
        return (logWeights.indices.filter { !(logWeights[$0] > threshold) }, threshold)
    }
}
