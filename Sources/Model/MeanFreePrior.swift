// The prior of TBG (method.md §6), its one home: an isotropic unit Gaussian on the mean-free
// subspace of the N atoms' coordinates, in model units. Drawing: 3N standard normals, minus their
// per-axis mean. Density on that 3(N−1)-dimensional subspace:
//   log p(z) = −½‖z‖² − (3(N−1)/2) log 2π      (z mean-free)
// — the dimension is 3(N−1), not 3N. Training draws x₀ and ε from it (FlowMatching), sampling draws
// the latents and scores them, the NLL scores the latents it integrates back to.
import Foundation
import Kernels

public enum MeanFreePrior {
    /// Writes a mean-free standard Gaussian for one molecule of `atoms` atoms into `out` (atoms × 3),
    /// drawing 3N normals from `random` (in that order, then centring per axis).
    public static func draw<T: BinaryFloatingPoint>(_ out: UnsafeMutablePointer<T>, atoms: Int, random: inout RandomSource) {
        var mean = SIMD3<Double>(repeating: 0)
        var values = [Double](repeating: 0, count: atoms * 3)
        for k in 0..<(atoms * 3) { values[k] = random.gaussian() }
        for atom in 0..<atoms {
            let position = SIMD3<Double>(values[3 * atom], values[3 * atom + 1], values[3 * atom + 2])
            mean += position / Double(atoms)
        }
        for atom in 0..<atoms {
            for axis in 0..<3 { out[3 * atom + axis] = T(values[3 * atom + axis] - mean[axis]) }
        }
    }

    /// The latent of molecule `index` of the sampling run seeded by `seed`: the same on any rank layout
    /// (stream (seed, 0x9A1E, index)).
    public static func sample(atoms: Int, seed: UInt64, index: Int) -> [Double] {
        var random = RandomSource(seed: seed, streams: [0x9A1E, UInt64(index)])
        var z = [Double](repeating: 0, count: atoms * 3)
        z.withUnsafeMutableBufferPointer { draw($0.baseAddress!, atoms: atoms, random: &random) }
        return z
    }

    /// log p(z) of a mean-free `z` (atoms × 3, model units) on the 3(N−1)-dimensional subspace.
    public static func logDensity(_ z: ArraySlice<Double>, atoms: Int) -> Double {
        let squared = z.reduce(0) { $0 + $1 * $1 }
        return -0.5 * squared - 1.5 * Double(atoms - 1) * log(2 * Double.pi)
    }
}
