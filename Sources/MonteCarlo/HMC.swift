// Hamiltonian Monte Carlo (Duane, Kennedy, Pendleton & Roweth 1987; Neal 2011, "MCMC using
// Hamiltonian dynamics", Handbook of MCMC ch. 5), over a batch, with unit masses.
//
// For the target π(x) ∝ exp(−β E(x)), forces F = −∇E:
//   momenta p ~ N(0, I);  H(x, p) = β E(x) + |p|²/2
//   leapfrog, L steps of ε:  p ← p + (ε/2) β F(x);  [x ← x + ε p;  p ← p + ε β F(x)] × L, the last
//   momentum update a half step;
//   accept (x', p') with probability min(1, exp(H(x, p) − H(x', p'))).
// The leapfrog map is volume preserving and reversible, so the Metropolis test leaves π exactly
// invariant for any ε and L. Unit masses mean one isotropic ε for every coordinate (light and heavy
// atoms alike); a mass matrix would be a preconditioner, not needed for correctness. A trajectory
// that meets a non-finite energy is stopped and rejected; an end point above the energy cut-off is
// rejected (zero target density there). L potential evaluations per particle per step. Optimal
// acceptance ≈ 0.65 in high dimension (Beskos et al. 2013, Bernoulli 19(5A)).
import Foundation

public enum HMC {
    /// One HMC trajectory of every particle of `batch`, in place (rejected particles keep their
    /// state). All particles take their leapfrog steps together, one batch evaluation per step.
    ///
    /// - Parameters: as `MALA.step`; particle k draws its `dimension` momenta and then one
    ///   uniform from `streams.generator(local: k)`; `settings.leapfrogSteps` is L.
    /// - Returns: acceptance per particle and evaluations spent (L × `batch.count`).
    public static func step(_ batch: inout ParticleBatch, settings: MoveSettings, streams: ParticleStreams,
                            potential: BatchPotential) -> MoveStatistics {
        let n = batch.count, d = batch.dimension
        let epsilon = settings.stepSize, beta = settings.beta
        var momenta = [Double](repeating: 0, count: n * d)
        var uniforms = [Double](repeating: 0, count: n)
        var initialKinetic = [Double](repeating: 0, count: n)
        for particle in 0..<n {
            var random = streams.generator(local: particle)
            var kinetic = 0.0
            for k in 0..<d {
                let p = random.gaussian()
                momenta[particle * d + k] = p
                kinetic += 0.5 * p * p
            }
            initialKinetic[particle] = kinetic
            uniforms[particle] = random.uniform()
        }
        var positions = batch.positions, forces = batch.forces, energies = batch.energies
        var alive = energies.map(\.isFinite)
        for index in 0..<(n * d) { momenta[index] += 0.5 * epsilon * beta * forces[index] }
        for leapfrog in 1...settings.leapfrogSteps {
            for particle in 0..<n where alive[particle] {
                for k in (particle * d)..<((particle + 1) * d) { positions[k] += epsilon * momenta[k] }
            }
            let evaluated = potential(positions, n)
            let weight = leapfrog == settings.leapfrogSteps ? 0.5 : 1.0
            for particle in 0..<n where alive[particle] {
                let energy = evaluated.energies[particle]
                guard energy.isFinite else {
                    alive[particle] = false
                    continue
                }
                energies[particle] = energy
                for k in (particle * d)..<((particle + 1) * d) {
                    forces[k] = evaluated.forces[k]
                    momenta[k] += weight * epsilon * beta * forces[k]
                }
            }
        }
        var accepted = [Bool](repeating: false, count: n)
        for particle in 0..<n where alive[particle] && energies[particle] <= settings.maximumEnergy {
            var kinetic = 0.0
            for k in (particle * d)..<((particle + 1) * d) { kinetic += 0.5 * momenta[k] * momenta[k] }
            let logRatio = beta * (batch.energies[particle] - energies[particle]) + initialKinetic[particle] - kinetic
            guard !logRatio.isNaN, log(uniforms[particle]) < logRatio else { continue }
            accepted[particle] = true
            batch.energies[particle] = energies[particle]
            for k in (particle * d)..<((particle + 1) * d) {
                batch.positions[k] = positions[k]
                batch.forces[k] = forces[k]
            }
        }
        return MoveStatistics(accepted: accepted, evaluations: n * settings.leapfrogSteps)
    }
}
