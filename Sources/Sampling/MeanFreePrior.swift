// The prior of TBG (method.md §6): an isotropic unit Gaussian on the mean-free subspace of the N
// atoms' coordinates, in model units. Its density on that 3(N−1)-dimensional subspace is
//   log p(z) = −½‖z‖² − (3(N−1)/2) log 2π      (z mean-free)
// — the dimension is 3(N−1), not 3N.
import Foundation
import Kernels
import Model

public enum MeanFreePrior {
    /// A sample for molecule `index` of the run seeded by `seed`: the same on any rank layout.
    public static func sample(atoms: Int, seed: UInt64, index: Int) -> [Double] {
        var random = RandomSource(seed: seed, streams: [0x9A1E, UInt64(index)])
        var z = [Double](repeating: 0, count: atoms * 3)
        z.withUnsafeMutableBufferPointer { FlowMatching.meanFreeGaussian($0.baseAddress!, atoms: atoms, random: &random) }
        return z
    }

    public static func logDensity(_ z: ArraySlice<Double>, atoms: Int) -> Double {
        let squared = z.reduce(0) { $0 + $1 * $1 }
        return -0.5 * squared - 1.5 * Double(atoms - 1) * log(2 * Double.pi)
    }
}
