// Rigid alignment and minibatch OT couplings against brute force: Kabsch recovers planted rotations
// and matches its formula; the exact permutation search over alanine dipeptide's three methyl
// groups equals enumeration of all 216 permutations; the alternating heuristic reaches a planted
// optimum where enumeration is impossible; the coupling's assignment is optimal over all
// permutations of small batches.
import Foundation
import TestSupport
import Transport
import XCTest

final class AlignmentAndCouplingTests: XCTestCase {
    private var random = SplitMix64(seed: 2024)

    private func gaussian() -> Double {
        // Box–Muller from two uniforms in (0, 1).
        let u = max(random.unit(), 1e-300), v = random.unit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    private func centred(_ atoms: Int, scale: Double = 1) -> [Double] {
        var x = (0..<(atoms * 3)).map { _ in gaussian() * scale }
        for axis in 0..<3 {
            let mean = stride(from: axis, to: x.count, by: 3).map { x[$0] }.reduce(0, +) / Double(atoms)
            for k in stride(from: axis, to: x.count, by: 3) { x[k] -= mean }
        }
        return x
    }

    private func randomRotation() -> [Double] {
        var q = (0..<4).map { _ in gaussian() }
        let n = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
        q = q.map { $0 / n }
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        return [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    }

    private func rotate(_ x: [Double], _ r: [Double], permutation: [Int]? = nil) -> [Double] {
        let atoms = x.count / 3
        var result = [Double](repeating: 0, count: x.count)
        for k in 0..<atoms {
            let source = permutation?[k] ?? k
            for row in 0..<3 {
                result[3 * k + row] = r[3 * row] * x[3 * source] + r[3 * row + 1] * x[3 * source + 1] + r[3 * row + 2] * x[3 * source + 2]
            }
        }
        return result
    }

    private func squaredDistance(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }

    /// Alanine dipeptide in the amber order: methyl hydrogens 1–3 (ACE), 11–13 (Ala CB), 19–21 (NME).
    private let alanineGroups = InterchangeableAtoms(groups: [[1, 2, 3], [11, 12, 13], [19, 20, 21]], atomCount: 22)

    func testKabschRecoversAPlantedRotationAndItsDistanceIsTheAlignedOne() {
        for _ in 0..<20 {
            let a = centred(22), r = randomRotation()
            let b = rotate(a, r)
            let fit = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.kabsch(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22) } }
            XCTAssertLessThan(fit.squaredDistance, 1e-9)
            assertClose(fit.rotation, r, absolute: 1e-7, relative: 0, "the planted rotation")
            // With noise: the reported distance is that of the returned rotation, and no random
            // rotation does better.
            let noisy = b.map { $0 + 0.3 * gaussian() }
            let noisyFit = a.withUnsafeBufferPointer { pa in noisy.withUnsafeBufferPointer { RigidAlignment.kabsch(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22) } }
            XCTAssertEqual(noisyFit.squaredDistance, squaredDistance(rotate(a, noisyFit.rotation), noisy), accuracy: 1e-9)
            let det = noisyFit.rotation[0] * (noisyFit.rotation[4] * noisyFit.rotation[8] - noisyFit.rotation[5] * noisyFit.rotation[7])
                - noisyFit.rotation[1] * (noisyFit.rotation[3] * noisyFit.rotation[8] - noisyFit.rotation[5] * noisyFit.rotation[6])
                + noisyFit.rotation[2] * (noisyFit.rotation[3] * noisyFit.rotation[7] - noisyFit.rotation[4] * noisyFit.rotation[6])
            XCTAssertEqual(det, 1, accuracy: 1e-9, "a proper rotation")
            for _ in 0..<50 { XCTAssertLessThanOrEqual(noisyFit.squaredDistance, squaredDistance(rotate(a, randomRotation()), noisy) + 1e-9) }
        }
    }

    func testExactSearchOverTheMethylGroupsEqualsEnumerationOfAll216Permutations() {
        XCTAssertEqual(alanineGroups.permutationCount, 216)
        let permutations3 = SmallAssignment.permutations(of: 3)
        for trial in 0..<10 {
            let a = centred(22), b = centred(22)   // unrelated pairs, like prior and data samples
            let best = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.align(pa.baseAddress!, onto: $0.baseAddress!, groups: alanineGroups) } }
            var minimum = Double.infinity
            for p in permutations3 { for q in permutations3 { for s in permutations3 {
                var permutation = Array(0..<22)
                for (group, choice) in zip(alanineGroups.groups, [p, q, s]) {
                    for (position, atom) in group.enumerated() { permutation[atom] = group[choice[position]] }
                }
                let fit = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.kabsch(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22, permutation: permutation) } }
                minimum = min(minimum, fit.squaredDistance)
            } } }
            XCTAssertEqual(best.squaredDistance, minimum, accuracy: 1e-9, "trial \(trial): the aligned pair has the minimal RMSD of all 216")
            var aligned = [Double](repeating: 0, count: 66)
            a.withUnsafeBufferPointer { pa in aligned.withUnsafeMutableBufferPointer { best.apply(to: pa.baseAddress!, atoms: 22, into: $0.baseAddress!) } }
            XCTAssertEqual(squaredDistance(aligned, b), best.squaredDistance, accuracy: 1e-9, "the returned superposition has the reported distance")
            XCTAssertEqual(aligned.map { $0 * $0 }.reduce(0, +), a.map { $0 * $0 }.reduce(0, +), accuracy: 1e-9, "a rotation and permutation keep the norm")
        }
    }

    func testHeuristicReachesAPlantedOptimumWhereEnumerationIsImpossible() {
        // 40 atoms, four groups of five interchangeable atoms: 120⁴ ≈ 2·10⁸ permutations.
        let groups = InterchangeableAtoms(groups: [[0, 1, 2, 3, 4], [10, 11, 12, 13, 14], [20, 21, 22, 23, 24], [30, 31, 32, 33, 34]], atomCount: 40)
        XCTAssertGreaterThan(groups.permutationCount, RigidAlignment.exhaustiveLimit)
        for _ in 0..<10 {
            let a = centred(40)
            var planted = Array(0..<40)
            for group in groups.groups {
                let shuffled = group.shuffled(using: &random)
                for (position, atom) in group.enumerated() { planted[atom] = shuffled[position] }
            }
            let b = rotate(a, randomRotation(), permutation: planted).map { $0 + 0.01 * gaussian() }
            let fit = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.align(pa.baseAddress!, onto: $0.baseAddress!, groups: groups) } }
            XCTAssertEqual(fit.permutation, planted, "the planted permutation is found")
            XCTAssertLessThan(fit.squaredDistance, 120 * 0.01 * 0.01 * 3, "down to the noise")
        }
    }

    func testCouplingAssignmentIsOptimalOverAllPermutationsOfSmallBatches() {
        let n = 6, atoms = 5
        for cost in [CouplingCost.euclidean, .aligned(InterchangeableAtoms(groups: [[1, 2]], atomCount: atoms))] {
            for _ in 0..<5 {
                let prior = (0..<n).flatMap { _ in centred(atoms) }, data = (0..<n).flatMap { _ in centred(atoms, scale: 2) }
                let matrix = MinibatchCoupling.costs(prior: prior, data: data, count: n, atoms: atoms, cost: cost)
                let pairing = MinibatchCoupling.pair(prior: prior, data: data, count: n, atoms: atoms, cost: cost)
                let total = (0..<n).reduce(0.0) { $0 + matrix[pairing.priorOfData[$1] * n + $1] }
                var best = Double.infinity
                for sigma in SmallAssignment.permutations(of: n) {
                    best = min(best, (0..<n).reduce(0.0) { $0 + matrix[sigma[$1] * n + $1] })
                }
                XCTAssertEqual(total, best, accuracy: best * 1e-8, "brute force over all \(n)! pairings")
                XCTAssertEqual(Set(pairing.priorOfData), Set(0..<n), "a bijection")
                XCTAssertLessThanOrEqual(pairing.coupledCost, pairing.independentCost + 1e-12)
                if case .euclidean = cost {
                    for j in 0..<n {
                        XCTAssertEqual(Array(pairing.pairedPrior[(j * atoms * 3)..<((j + 1) * atoms * 3)]),
                                       Array(prior[(pairing.priorOfData[j] * atoms * 3)..<((pairing.priorOfData[j] + 1) * atoms * 3)]))
                    }
                }
            }
        }
    }

    func testQuantisedAssignmentMatchesBruteForceOnTheQuantisedCosts() {
        let n = 7
        let costs = (0..<(n * n)).map { _ in random.unit() * 100 }
        let sigma = MinibatchCoupling.assignment(costs: costs, count: n)   // data j ↔ prior sigma[j]
        let scale = Double(1 << 29) / costs.max()!
        func quantised(_ i: Int, _ j: Int) -> Int64 { Int64((costs[i * n + j] * scale).rounded()) }
        let total = (0..<n).reduce(Int64(0)) { $0 + quantised(sigma[$1], $1) }
        var best = Int64.max
        for p in SmallAssignment.permutations(of: n) { best = min(best, (0..<n).reduce(Int64(0)) { $0 + quantised(p[$1], $1) }) }
        XCTAssertEqual(total, best)
    }

    func testIdenticalRowsFormGroups() {
        // Rows: A, B, A, C, B, A → groups {0, 2, 5} and {1, 4}.
        let features: [Float] = [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0]
        let groups = InterchangeableAtoms.identicalRows(features, atoms: 6, width: 3)
        XCTAssertEqual(groups.groups, [[0, 2, 5], [1, 4]])
        XCTAssertEqual(groups.permutationCount, 12)
        let all = SmallAssignment.permutations(of: 5)
        XCTAssertEqual(all.count, 120)
        XCTAssertEqual(Set(all).count, 120, "distinct")
        XCTAssertTrue(all.allSatisfy { $0.sorted() == Array(0..<5) }, "each a permutation")
    }
}

extension AlignmentAndCouplingTests {
    func testKabschDistanceByNewtonEqualsTheEigenSolution() {
        for scale in [0.01, 1.0, 30.0] {
            for _ in 0..<50 {
                let a = centred(22, scale: scale), b = centred(22, scale: scale)
                let full = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.kabsch(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22) } }
                let fast = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.kabschDistance(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22) } }
                XCTAssertEqual(fast, full.squaredDistance, accuracy: 1e-9 * max(1, full.squaredDistance))
            }
            // Near-perfect superposition (the characteristic polynomial's largest roots close together).
            let a = centred(22, scale: scale)
            let b = rotate(a, randomRotation()).map { $0 + 1e-6 * scale }
            let fast = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { RigidAlignment.kabschDistance(pa.baseAddress!, onto: $0.baseAddress!, atoms: 22) } }
            XCTAssertLessThan(fast, 1e-8 * scale * scale * 66 + 1e-9)
        }
    }

    func testCostRowsComputedApartAssembleToTheWholeMatrix() {
        let n = 7, atoms = 4
        let prior = (0..<n).flatMap { _ in centred(atoms) }, data = (0..<n).flatMap { _ in centred(atoms) }
        for cost in [CouplingCost.euclidean, .aligned(InterchangeableAtoms(groups: [], atomCount: atoms))] {
            let whole = MinibatchCoupling.costs(prior: prior, data: data, count: n, atoms: atoms, cost: cost)
            var parts: [Double] = []
            for rows in [0..<3, 3..<7] { parts += MinibatchCoupling.costs(prior: prior, data: data, count: n, atoms: atoms, cost: cost, rows: rows) }
            XCTAssertEqual(parts, whole)
        }
    }
}
