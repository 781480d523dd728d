// OpenMM's NonbondedForce without periodicity: Coulomb + Lennard-Jones over all pairs except
// exclusions, plus the exception list with its own parameters.
//
//   normal pair (i<j, not an exception, r < r_c when cut off):
//     E = k_e q_i q_j (1/r + k_rf r² − c_rf) + 4 ε_ij ((σ_ij/r)¹² − (σ_ij/r)⁶)
//     σ_ij = (σ_i + σ_j)/2, ε_ij = √(ε_i ε_j)                     (Lorentz–Berthelot)
//     NoCutoff: k_rf = c_rf = 0.  CutoffNonPeriodic (reaction field, ε_rf):
//     k_rf = (ε_rf − 1)/((2ε_rf + 1) r_c³), c_rf = 3ε_rf/((2ε_rf + 1) r_c); LJ simply truncated.
//   exception (1-4 pairs with scaled q, σ, ε): E = k_e q / r + 4ε((σ/r)¹² − (σ/r)⁶),
//     never cut off and without reaction field, as OpenMM does (data.md §6.2).
// k_e = 138.93545764438198 kJ mol⁻¹ nm e⁻² (OpenMM 8, CODATA 2018). Pair lists are built once,
// so the per-frame loop reads flat arrays only.
import Foundation

public struct Nonbonded: EnergyTerm {
    public static let coulombConstant = 138.93545764438198

    public let forceName = "NonbondedForce"
    /// Normal pairs: atom pairs and (k_e q_i q_j, σ_ij, 4ε_ij).
    let pairAtoms: [Int32]
    let pairParameters: [Double]
    /// Exceptions with any non-zero parameter: atom pairs and (k_e q, σ, 4ε).
    let exceptionAtoms: [Int32]
    let exceptionParameters: [Double]
    /// nil = NoCutoff.
    let cutoff: Double?
    let reactionFieldK: Double
    let reactionFieldC: Double

    init(charges: [Double], sigmas: [Double], epsilons: [Double], exceptions: [(Int32, Int32, Double, Double, Double)],
         cutoff: Double?, reactionFieldDielectric: Double) {
        let count = charges.count
        var excluded = Set<Int>()
        for exception in exceptions {
            let (i, j) = (Int(min(exception.0, exception.1)), Int(max(exception.0, exception.1)))
            excluded.insert(i * count + j)
        }
        var pairAtoms: [Int32] = [], pairParameters: [Double] = []
        for i in 0..<count {
            for j in (i + 1)..<count where !excluded.contains(i * count + j) {
                pairAtoms += [Int32(i), Int32(j)]
                pairParameters += [Self.coulombConstant * charges[i] * charges[j], 0.5 * (sigmas[i] + sigmas[j]),
                                   4 * (epsilons[i] * epsilons[j]).squareRoot()]
            }
        }
        var exceptionAtoms: [Int32] = [], exceptionParameters: [Double] = []
        for (i, j, chargeProduct, sigma, epsilon) in exceptions where chargeProduct != 0 || epsilon != 0 {
            exceptionAtoms += [i, j]
            exceptionParameters += [Self.coulombConstant * chargeProduct, sigma, 4 * epsilon]
        }
        self.pairAtoms = pairAtoms
        self.pairParameters = pairParameters
        self.exceptionAtoms = exceptionAtoms
        self.exceptionParameters = exceptionParameters
        self.cutoff = cutoff
        if let cutoff {
            let eps = reactionFieldDielectric
            reactionFieldK = (eps - 1) / ((2 * eps + 1) * cutoff * cutoff * cutoff)
            reactionFieldC = 3 * eps / ((2 * eps + 1) * cutoff)
        } else {
            reactionFieldK = 0
            reactionFieldC = 0
        }
    }

    public func energy(positions x: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        let cutoffSquared = cutoff.map { $0 * $0 } ?? .infinity
        for pair in 0..<(pairAtoms.count / 2) {
            let i = Int(pairAtoms[2 * pair]), j = Int(pairAtoms[2 * pair + 1])
            let v = displacement(x, i, j)
            let r2 = dot(v, v)
            guard r2 < cutoffSquared else { continue }
            let qq = pairParameters[3 * pair], sigma = pairParameters[3 * pair + 1], fourEps = pairParameters[3 * pair + 2]
            total += pairEnergy(v: v, r2: r2, qq: qq, sigma: sigma, fourEps: fourEps, kRF: reactionFieldK, cRF: reactionFieldC,
                                i: i, j: j, gradient: gradient)
        }
        for pair in 0..<(exceptionAtoms.count / 2) {
            let i = Int(exceptionAtoms[2 * pair]), j = Int(exceptionAtoms[2 * pair + 1])
            let v = displacement(x, i, j)
            total += pairEnergy(v: v, r2: dot(v, v), qq: exceptionParameters[3 * pair], sigma: exceptionParameters[3 * pair + 1],
                                fourEps: exceptionParameters[3 * pair + 2], kRF: 0, cRF: 0, i: i, j: j, gradient: gradient)
        }
        return total
    }

    @inline(__always)
    private func pairEnergy(v: SIMD3<Double>, r2: Double, qq: Double, sigma: Double, fourEps: Double, kRF: Double, cRF: Double,
                            i: Int, j: Int, gradient: UnsafeMutablePointer<Double>?) -> Double {
        let r = r2.squareRoot()
        let inverseR = 1 / r
        let s2 = sigma * sigma / r2
        let s6 = s2 * s2 * s2
        let energy = qq * (inverseR + kRF * r2 - cRF) + fourEps * (s6 * s6 - s6)
        if let gradient {
            // dE/dr = q(−1/r² + 2 k_rf r) + 4ε(−12 s¹² + 6 s⁶)/r
            let dEdr = qq * (-inverseR * inverseR + 2 * kRF * r) + fourEps * (-12 * s6 * s6 + 6 * s6) * inverseR
            let scaled = (dEdr * inverseR) * v
            accumulate(gradient, j, scaled)
            accumulate(gradient, i, -scaled)
        }
        return energy
    }
}
