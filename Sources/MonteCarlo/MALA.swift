// The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996, "Exponential convergence of
// Langevin distributions and their discrete approximations", Bernoulli 2(4)), over a batch.
//
// For the target π(x) ∝ exp(−β E(x)) with forces F = −∇E, so that ∇log π = β F:
//   proposal   x' = x + (ε²/2) β F(x) + ε ξ,   ξ ~ N(0, I)
//   log q(x'|x) = −|x' − x − (ε²/2) β F(x)|² / (2ε²)   (+ a constant that cancels)
//   accept with probability min(1, exp(−β (E(x') − E(x)) + log q(x|x') − log q(x'|x))).
// The Metropolis–Hastings test makes the kernel leave π exactly invariant for any ε (unlike the
// unadjusted Langevin step); a proposal above the energy cut-off or with a non-finite energy is
// rejected. One potential evaluation (energy and forces) per particle per step. Acceptance near
// 0.574 is optimal in high dimension (Roberts & Rosenthal 1998); field.md §5 adapts ε to ≈ 60 %.

import Foundation

public enum MALA {
    /// One MALA step of every particle of `batch`, in place (rejected particles keep their state).
    ///
    /// - Parameters:
    ///   - batch: particles with energies and forces at their positions.
    ///   - settings: β, ε (`stepSize`, position units) and the energy cut-off.
    ///   - streams: particle k draws its dimension Gaussians and then one uniform from
    ///     `streams.generator(local: k)`.
    ///   - potential: evaluates the proposals (one batch call).
    /// - Returns: acceptance per particle and evaluations spent (`batch.count`).
    public static func step(_ batch: inout ParticleBatch, settings: MoveSettings, streams: ParticleStreams,
                            potential: BatchPotential) -> MoveStatistics {
        let n = batch.count, d = batch.dimension
        let epsilon = settings.stepSize, drift = 0.5 * epsilon * epsilon * settings.beta
        var proposals = [Double](repeating: 0, count: n * d)
        var uniforms = [Double](repeating: 0, count: n)
        for particle in 0..<n {
            var random = streams.generator(local: particle)
            let base = particle * d
            for k in 0..<d {
                proposals[base + k] = batch.positions[base + k] + drift * batch.forces[base + k] + epsilon * random.gaussian()
            }
            uniforms[particle] = random.uniform()
        }
        let evaluated = potential(proposals, n)
        var accepted = [Bool](repeating: false, count: n)
        for particle in 0..<n {
            let newEnergy = evaluated.energies[particle]
            guard newEnergy.isFinite, newEnergy <= settings.maximumEnergy else { continue }
            let base = particle * d
            var forward = 0.0, backward = 0.0   // |x' − x − drift F(x)|², |x − x' − drift F(x')|²
            for k in 0..<d {
                let step = proposals[base + k] - batch.positions[base + k]
                let f = step - drift * batch.forces[base + k], b = -step - drift * evaluated.forces[base + k]
                forward += f * f
                backward += b * b
            }
            let logRatio = -settings.beta * (newEnergy - batch.energies[particle]) - (backward - forward) / (2 * epsilon * epsilon)
            guard logRatio.isFinite || logRatio == .infinity else { continue }
            if log(uniforms[particle]) < logRatio {
                accepted[particle] = true
                batch.energies[particle] = newEnergy
                for k in 0..<d {
                    batch.positions[base + k] = proposals[base + k]
                    batch.forces[base + k] = evaluated.forces[base + k]
                }
            }
        }
        return MoveStatistics(accepted: accepted, evaluations: n)
    }
}
