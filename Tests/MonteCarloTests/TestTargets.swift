// Pure-math targets with known answers for the Monte Carlo tests (kT = 1, dimensionless).
import Foundation
import Kernels
import MonteCarlo

/// Independent Gaussians N(mean_k, σ_k²) per coordinate: E(x) = Σ_k (x_k − mean_k)² / (2σ_k²).
struct GaussianTarget {
    let means: [Double]
    let sigmas: [Double]
    var dimension: Int { means.count }

    var potential: BatchPotential {
        { positions, count in
            let d = dimension
            var energies = [Double](repeating: 0, count: count), forces = [Double](repeating: 0, count: count * d)
            for i in 0..<count {
                for k in 0..<d {
                    let offset = positions[i * d + k] - means[k]
                    energies[i] += 0.5 * offset * offset / (sigmas[k] * sigmas[k])
                    forces[i * d + k] = -offset / (sigmas[k] * sigmas[k])
                }
            }
            return (energies, forces)
        }
    }

    func exactDraws(_ count: Int, seed: UInt64) -> [Double] {
        var random = RandomSource(seed: seed, streams: [99])
        return (0..<(count * dimension)).map { means[$0 % dimension] + sigmas[$0 % dimension] * random.gaussian() }
    }
}

/// The asymmetric 1-D double well E(x) = h (x² − 1)² + c x (kT = 1): barrier ≈ h at x = 0.
struct DoubleWell {
    var height = 5.0
    var tilt = 0.5

    func energy(_ x: Double) -> Double { height * (x * x - 1) * (x * x - 1) + tilt * x }
    func force(_ x: Double) -> Double { -(4 * height * x * (x * x - 1) + tilt) }

    var potential: BatchPotential {
        { positions, count in ((0..<count).map { energy(positions[$0]) }, (0..<count).map { force(positions[$0]) }) }
    }

    /// P(x < 0) under exp(−E), by the trapezoid rule on [−3, 3] with 600 001 points (the density
    /// outside is below e^−300).
    var exactLeftPopulation: Double {
        let points = 600_001, low = -3.0, width = 6.0 / Double(points - 1)
        var left = 0.0, total = 0.0
        for k in 0..<points {
            let x = low + Double(k) * width
            let weight = (k == 0 || k == points - 1 ? 0.5 : 1) * exp(-energy(x))
            total += weight
            if x < 0 { left += weight } else if x == 0 { left += 0.5 * weight }
        }
        return left / total
    }
}

/// A deliberately poor Gaussian proposal N(mean, σ²) in 1-D: pool positions and log w = −E − log q.
func gaussianPool(_ well: DoubleWell, count: Int, mean: Double, sigma: Double, seed: UInt64) -> (pool: ProposalPool, energies: [Double]) {
    var random = RandomSource(seed: seed, streams: [7])
    let x = (0..<count).map { _ in mean + sigma * random.gaussian() }
    let energies = x.map(well.energy)
    let logQ = x.map { -0.5 * (($0 - mean) / sigma) * (($0 - mean) / sigma) - log(sigma * (2 * Double.pi).squareRoot()) }
    return (ProposalPool(dimension: 1, positions: x, logWeights: zip(energies, logQ).map { -$0 - $1 }), energies)
}

/// Mean and standard error of the mean of independent replicate values.
func meanAndStandardError(_ values: [Double]) -> (mean: Double, error: Double) {
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
    return (mean, (variance / Double(values.count)).squareRoot())
}
