// Every term's hand-written gradient against central finite differences of its own energy, in
// float64, on MD frames and on distorted ones, element by element (h = 1e-6 nm: the truncation error
// O(h²·E‴) and the rounding error O(ε·E/h) are both ≪ the tolerance).
import ForceField
import MDData
import TestSupport
import XCTest

final class FiniteDifferenceTests: XCTestCase {
    private func checkGradients(path: String, frame: Int, displacement: Double, seed: UInt64) throws {
        let trajectory = try TrajectoryFile(path: path)
        let system = try ForceFieldSystem(xml: trajectory.systemXML)
        var generator = SplitMix64(seed: seed)
        var x = try trajectory.readFrames(frame..<(frame + 1)).map { Double($0) + displacement * generator.uniform() }
        for term in system.terms {
            var gradient = [Double](repeating: 0, count: x.count)
            _ = x.withUnsafeBufferPointer { positions in
                gradient.withUnsafeMutableBufferPointer { term.energy(positions: positions, gradient: $0.baseAddress) }
            }
            let h = 1e-6
            var numeric = [Double](repeating: 0, count: x.count)
            for k in 0..<x.count {
                let saved = x[k]
                x[k] = saved + h
                let plus = x.withUnsafeBufferPointer { term.energy(positions: $0, gradient: nil) }
                x[k] = saved - h
                let minus = x.withUnsafeBufferPointer { term.energy(positions: $0, gradient: nil) }
                x[k] = saved
                numeric[k] = (plus - minus) / (2 * h)
            }
            let scale = numeric.map(abs).max() ?? 1
            assertClose(gradient, numeric, absolute: 1e-5 * max(scale, 1), relative: 1e-5,
                        "\(term.forceName) in \((path as NSString).lastPathComponent) frame \(frame) ±\(displacement) nm")
        }
    }

    func testAlanineDipeptideTerms() throws {
        try checkGradients(path: Fixtures.path("ad2_capped.h5"), frame: 3, displacement: 0, seed: 1)
        try checkGradients(path: Fixtures.path("ad2_capped.h5"), frame: 11, displacement: 0.05, seed: 2)
    }

    func testZwitterionTerms() throws {
        try checkGradients(path: Fixtures.path("ks_zwitterion.h5"), frame: 5, displacement: 0, seed: 3)
        try checkGradients(path: Fixtures.path("ks_zwitterion.h5"), frame: 17, displacement: 0.05, seed: 4)
    }
}
