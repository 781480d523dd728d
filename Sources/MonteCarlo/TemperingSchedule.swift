// The inverse-temperature ladder of tempered SMC: targets π_k(x) ∝ exp(−β_k u(x)), u = E/kT, from
// β_0 (a hotter, flatter target) to β_{K−1} = 1 (the Boltzmann distribution), geometric:
//   β_k = β_0^(1 − k/(K−1)),  k = 0 … K−1.
// Geometric spacing keeps the incremental weights exp(−(β_k − β_{k−1}) u) of similar spread along
// the ladder when the energy fluctuations scale like 1/β (Neal 2001, "Annealed importance
// sampling", Stat. Comput. 11; Del Moral, Doucet & Jasra 2006, "Sequential Monte Carlo samplers",
// JRSS B 68(3)). β_0 = 1 gives no tempering: K resample–move stages at the target.
import Foundation

public struct TemperingSchedule: Sendable, Equatable {
    /// β_0 … β_{K−1}, increasing to exactly 1.
    public let betas: [Double]

    /// - Parameters: `stages` K ≥ 1; `initialBeta` β_0 in (0, 1]; with K = 1, β_0 must be 1.
    /// - Throws: nothing; invalid arguments are preconditions (the CLI validates them first).
    public init(stages: Int, initialBeta: Double) {
        precondition(stages >= 1 && initialBeta > 0 && initialBeta <= 1, "stages ≥ 1 and β0 in (0, 1]")
        precondition(stages > 1 || initialBeta == 1, "one stage cannot temper: β0 must be 1")
        if stages == 1 {
            betas = [1]
        } else {
            betas = (0..<stages).map { k in k == stages - 1 ? 1 : pow(initialBeta, 1 - Double(k) / Double(stages - 1)) }
        }
    }

    public var stages: Int { betas.count }
}
