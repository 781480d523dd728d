// Generalized Born implicit solvent in the OBC form shared by OpenMM's GBSAOBCForce and the
// CustomGBForce of `implicit/obc1.xml` / `obc2.xml` (data.md §6.3), with the ACE surface term.
//
//   Born integral over ordered pairs j ≠ i with ρ_i < r + s_j (and r < r_c if cut off),
//   U = r + s_j, L = max(ρ_i, |r − s_j|):
//     I_i = ½ Σ_j [1/L − 1/U + ¼(r − s_j²/r)(1/U² − 1/L²) + ½ ln(L/U)/r
//                  (+ 2(1/ρ_i − 1/L) if ρ_i < s_j − r: the "engulfed sphere" term, GBSAOBCForce only)]
//   ψ_i = ρ_i I_i,  B_i = 1 / (1/ρ_i − tanh(αψ − βψ² + γψ³)/R_i),  R_i = ρ_i + offset
//   E = Σ_i c_self q_i²/B_i + Σ_{i<j, r<r_c} c_pair q_i q_j (1/f_ij − shift) + Σ_i c_ACE (R_i + 0.14)² (R_i/B_i)⁶
//   f_ij = √(r² + B_i B_j exp(−r²/(4 B_i B_j)))
//
// Gradient: the explicit r-dependence of the pair term, plus the chain through the Born radii,
// dE/dI_i = (dE/dB_i)(dB_i/dI_i) with dB/dI = B² sech²(u) u′(ψ) ρ/R, then dI_i/dr_ij term by term
// (U′ = 1; L′ = 0 when L = ρ, else sign(r − s)). Checked against central differences in the tests.
import Foundation

public struct GeneralizedBorn: EnergyTerm {
    public let forceName: String
    let charges: [Double]
    /// ρ_i, nm.
    let offsetRadii: [Double]
    /// s_i = scale_i ρ_i, nm.
    let scaledRadii: [Double]
    let alpha: Double, beta: Double, gamma: Double
    /// R_i = ρ_i + bornOffset inside tanh.
    let bornOffset: Double
    let selfCoefficient: Double
    let pairCoefficient: Double
    let pairShift: Double
    /// nil when there is no surface term.
    let aceCoefficient: Double?
    let aceProbeRadius: Double
    let aceOffset: Double
    let engulfTerm: Bool
    let cutoff: Double?

    public func energy(positions x: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        let count = charges.count
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * count) { scratch in
            let integral = scratch.baseAddress!, born = integral + count, dEdB = born + count
            scratch.initialize(repeating: 0)
            let cutoffSquared = cutoff.map { $0 * $0 } ?? .infinity

            // Born integrals I_i (each unordered pair feeds both orders).
            for i in 0..<count {
                for j in (i + 1)..<count {
                    let v = displacement(x, i, j)
                    let r2 = dot(v, v)
                    guard r2 < cutoffSquared else { continue }
                    let r = r2.squareRoot()
                    integral[i] += integrand(r: r, rho: offsetRadii[i], s: scaledRadii[j]).value
                    integral[j] += integrand(r: r, rho: offsetRadii[j], s: scaledRadii[i]).value
                }
            }
            // Born radii and the single-particle energies.
            var total = 0.0
            for i in 0..<count {
                let rho = offsetRadii[i], radius = rho + bornOffset
                let psi = 0.5 * integral[i] * rho
                let u = alpha * psi - beta * psi * psi + gamma * psi * psi * psi
                let b = 1 / (1 / rho - tanh(u) / radius)
                born[i] = b
                let q2 = charges[i] * charges[i]
                total += selfCoefficient * q2 / b
                dEdB[i] -= selfCoefficient * q2 / (b * b)
                if let ace = aceCoefficient {
                    let aceRadius = rho + aceOffset
                    let ratio = aceRadius / b, ratio2 = ratio * ratio, ratio6 = ratio2 * ratio2 * ratio2
                    let prefactor = ace * (aceRadius + aceProbeRadius) * (aceRadius + aceProbeRadius)
                    total += prefactor * ratio6
                    dEdB[i] -= 6 * prefactor * ratio6 / b
                }
            }
            // Pair energies (unordered pairs once).
            for i in 0..<count {
                for j in (i + 1)..<count {
                    let v = displacement(x, i, j)
                    let r2 = dot(v, v)
                    guard r2 < cutoffSquared else { continue }
                    let product = born[i] * born[j]
                    let e = exp(-r2 / (4 * product))
                    let f = (r2 + product * e).squareRoot()
                    let coefficient = pairCoefficient * charges[i] * charges[j]
                    total += coefficient * (1 / f - pairShift)
                    guard let gradient else { continue }
                    let dEdf = -coefficient / (f * f)
                    // f² = r² + P e:  ∂f/∂r = r(1 − e/4)/f,  ∂f/∂P = e(1 + r²/(4P))/(2f)
                    let dfdP = e * (1 + r2 / (4 * product)) / (2 * f)
                    dEdB[i] += dEdf * dfdP * born[j]
                    dEdB[j] += dEdf * dfdP * born[i]
                    let dEdr = dEdf * (1 - e / 4) / f   // already divided by r: (r(1−e/4)/f)/r
                    accumulate(gradient, j, dEdr * v)
                    accumulate(gradient, i, -dEdr * v)
                }
            }
            guard let gradient else { return total }
            // Chain through the Born radii: dE/dI_i, then the r-derivative of every integrand.
            for i in 0..<count {
                let rho = offsetRadii[i], radius = rho + bornOffset
                let psi = 0.5 * integral[i] * rho
                let u = alpha * psi - beta * psi * psi + gamma * psi * psi * psi
                let sech = 1 / cosh(u)
                let dBdI = born[i] * born[i] * sech * sech * (alpha - 2 * beta * psi + 3 * gamma * psi * psi) * 0.5 * rho / radius
                integral[i] = dEdB[i] * dBdI   // reuse: now dE/dI_i (with the ½ folded in)
            }
            for i in 0..<count {
                for j in (i + 1)..<count {
                    let v = displacement(x, i, j)
                    let r2 = dot(v, v)
                    guard r2 < cutoffSquared else { continue }
                    let r = r2.squareRoot()
                    let dEdr = integral[i] * integrand(r: r, rho: offsetRadii[i], s: scaledRadii[j]).derivative
                        + integral[j] * integrand(r: r, rho: offsetRadii[j], s: scaledRadii[i]).derivative
                    let scaled = (dEdr / r) * v
                    accumulate(gradient, j, scaled)
                    accumulate(gradient, i, -scaled)
                }
            }
            return total
        }
    }

    /// The bracket of the Born integral for one ordered pair, and its derivative in r.
    @inline(__always)
    func integrand(r: Double, rho: Double, s: Double) -> (value: Double, derivative: Double) {
        guard rho < r + s else { return (0, 0) }
        let upper = r + s
        let gap = r - s
        let lower = max(rho, abs(gap))
        let lowerSlope: Double = lower == rho ? 0 : (gap >= 0 ? 1 : -1)
        let inverseU = 1 / upper, inverseL = 1 / lower
        let inverseU2 = inverseU * inverseU, inverseL2 = inverseL * inverseL
        let logRatio = log(lower / upper)
        let shape = r - s * s / r
        var value = inverseL - inverseU + 0.25 * shape * (inverseU2 - inverseL2) + 0.5 * logRatio / r
        var derivative = -lowerSlope * inverseL2 + inverseU2
            + 0.25 * (1 + s * s / (r * r)) * (inverseU2 - inverseL2)
            + 0.25 * shape * (-2 * inverseU2 * inverseU + 2 * lowerSlope * inverseL2 * inverseL)
            + 0.5 * ((lowerSlope * inverseL - inverseU) / r - logRatio / (r * r))
        if engulfTerm && rho < s - r {
            value += 2 * (1 / rho - inverseL)
            derivative += 2 * lowerSlope * inverseL2
        }
        return (value, derivative)
    }
}
