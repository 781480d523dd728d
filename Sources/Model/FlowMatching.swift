// Conditional flow matching with the mean-free Gaussian prior (method.md §5.1, §6; MeanFreePrior.swift).
//
//   x₀, ε ~ mean-free N(0, I) per molecule,  t ~ U(0, 1) per molecule
//   x_t = (1 − t) x₀ + t x₁ + σ ε,   u = x₁ − x₀   (σ = 0.01 in model units)
//   L = (1/M) Σ_m Σ_{atoms, axes} (v − u)² / (3 N_m)
// The per-molecule random numbers come from a generator the caller derives from the sample's
// global identity, so a sample gets the same x₀, ε and t on any number of ranks.
import Kernels

public enum FlowMatching {
    /// Σ (v − u)² / (3 N) for one molecule, and ∂/∂v of `weight` times it into `gradient`.
    public static func moleculeLoss<T: BinaryFloatingPoint>(
        velocity: UnsafePointer<T>, target: UnsafePointer<T>, atoms: Int, weight: Double, gradient: UnsafeMutablePointer<T>
    ) -> Double {
        var sum = 0.0
        let scale = 1 / Double(3 * atoms)
        for k in 0..<(atoms * 3) {
            let difference = Double(velocity[k]) - Double(target[k])
            sum += difference * difference
            gradient[k] = T(2 * difference * scale * weight)
        }
        return sum * scale
    }
}
