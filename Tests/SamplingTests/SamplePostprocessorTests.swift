// The post-processing step alone, as a pure function (no MPI, no files, no model): a hand-built
// molecule with one stereocentre (a carbon carrying H, OH, NH2 and CH3), samples made from it in
// model units, and a toy energy. Checks the unit conversion, the permutation back onto the
// reference order, the mirror fix, the weight, that invalid samples are never given an energy, and
// the run summary.
import Evaluation
import FlowModel
import Foundation
import Sampling
import XCTest

final class SamplePostprocessorTests: XCTestCase {
    static let elements = ["C", "H", "O", "H", "N", "H", "H", "C", "H", "H", "H"]
    static let bonds = [[0, 1], [0, 2], [2, 3], [0, 4], [4, 5], [4, 6], [0, 7], [7, 8], [7, 9], [7, 10]]

    /// The molecule in nm: tetrahedral substituents around atom 0, each heavy substituent's
    /// hydrogens 0.1 nm out, spread about its axis.
    static func molecule() -> [Double] {
        func normalized(_ v: SIMD3<Double>) -> SIMD3<Double> { v / (v * v).sum().squareRoot() }
        func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
            SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
        }
        let directions = [SIMD3<Double>(1, 1, 1), SIMD3(1, -1, -1), SIMD3(-1, 1, -1), SIMD3(-1, -1, 1)].map(normalized)
        var atoms = [SIMD3<Double>](repeating: .zero, count: 11)
        func hydrogens(on heavy: Int, axis d: SIMD3<Double>, _ indices: [Int]) {
            let u1 = normalized(cross(d, SIMD3(0, 0, 1))), u2 = cross(d, u1)
            for (k, index) in indices.enumerated() {
                let angle = 2 * Double.pi * Double(k) / Double(indices.count)
                atoms[index] = atoms[heavy] + 0.1 * normalized(d + 2 * (cos(angle) * u1 + sin(angle) * u2))
            }
        }
        atoms[1] = 0.109 * directions[0]
        atoms[2] = 0.143 * directions[1]
        atoms[4] = 0.147 * directions[2]
        atoms[7] = 0.153 * directions[3]
        hydrogens(on: 2, axis: directions[1], [3])
        hydrogens(on: 4, axis: directions[2], [5, 6])
        hydrogens(on: 7, axis: directions[3], [8, 9, 10])
        return atoms.flatMap { [$0.x, $0.y, $0.z] }
    }

    static let units = ModelUnits(scaling: 10)
    static let kT = 2.5

    /// A toy energy (kJ/mol): a spring on every atom's distance from the origin.
    static func toyEnergy(_ x: [Double]) -> Double { 100 * x.map { $0 * $0 }.reduce(0, +) }

    /// The post-processor of the molecule with atom labels `labels` (default: elements) and an energy
    /// that counts its calls.
    func postprocessor(labels: [String]? = nil, calls: @escaping () -> Void = {}) -> SamplePostprocessor {
        let reference = BondGraph(elements: Self.elements, bonds: Self.bonds).relabelled(labels ?? Self.elements)
        let chirality = ChiralCentres(elements: Self.elements, bonds: Self.bonds, reference: Self.molecule()[...])
        return SamplePostprocessor(reference: reference, elements: Self.elements, chirality: chirality, units: Self.units, kT: Self.kT) {
            calls()
            return Self.toyEnergy($0)
        }
    }

    func testTheMoleculeIsWhatItClaims() {
        let x = Self.molecule()
        XCTAssertEqual(BondGraph.inferred(elements: Self.elements, positions: x[...]), BondGraph(elements: Self.elements, bonds: Self.bonds),
                       "the distances give exactly the listed bonds")
        let centres = ChiralCentres(elements: Self.elements, bonds: Self.bonds, reference: x[...])
        XCTAssertEqual(centres.centres.map(\.centre), [0], "atom 0 is the one stereocentre")
    }

    func testAValidSampleIsConvertedCheckedAndWeighted() {
        let x = Self.molecule()
        let record = postprocessor().record(index: 4, modelUnits: x.map { $0 * 10 }, logPrior: -5, deltaLogDet: 2)
        XCTAssertEqual(record.index, 4)
        XCTAssertTrue(record.topologyOK && record.chiralityOK && !record.mirrored && record.integrationOK)
        XCTAssertEqual(record.positions, x.map { $0 * 10 / 10 }, "nm = model units / scaling, in reference order")
        XCTAssertEqual(record.logQ, -7, "log q = log p(z) − Δ")
        XCTAssertEqual(record.energy, Self.toyEnergy(record.positions))
        XCTAssertEqual(record.logWeight, -record.energy / Self.kT - record.logQ)
        XCTAssertEqual(record.rawEnergy, record.energy, "a valid sample's raw energy is its energy")
        XCTAssertEqual(record.rawLogWeight(kT: Self.kT), record.logWeight)
        XCTAssertTrue(record.roundTripLogQError.isNaN && record.roundTripLatentError.isNaN, "not checked here")
    }

    func testAMirrorImageIsFixed() {
        let x = Self.molecule()
        let record = postprocessor().record(index: 0, modelUnits: x.map { -$0 * 10 }, logPrior: -5, deltaLogDet: 2)
        XCTAssertTrue(record.topologyOK && record.chiralityOK && record.mirrored)
        for (a, b) in zip(record.positions, x) { XCTAssertEqual(a, b, accuracy: 1e-15, "x → −x restores the reference") }
        XCTAssertEqual(record.energy, Self.toyEnergy(record.positions), "the energy of the fixed configuration")
        XCTAssertEqual(record.logWeight, -record.energy / Self.kT + 7)
    }

    /// Atoms in another order (the H on atom 0 and the H on the O trade places) come back in the
    /// reference order when the labels allow the swap, and are refused when the model tells them apart.
    func testPermutedAtomsComeBackInReferenceOrderUnlessTheLabelsForbidIt() {
        let x = Self.molecule()
        var swapped = x
        for axis in 0..<3 { swapped.swapAt(3 * 1 + axis, 3 * 3 + axis) }
        let byElement = postprocessor().record(index: 0, modelUnits: swapped.map { $0 * 10 }, logPrior: 0, deltaLogDet: 0)
        XCTAssertTrue(byElement.topologyOK && byElement.chiralityOK && !byElement.mirrored)
        for (a, b) in zip(byElement.positions, x) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        var calls = 0
        let perAtom = postprocessor(labels: Self.elements.indices.map { "\(Self.elements[$0]):\($0)" }) { calls += 1 }
            .record(index: 0, modelUnits: swapped.map { $0 * 10 }, logPrior: 0, deltaLogDet: 0)
        XCTAssertFalse(perAtom.topologyOK, "one class per atom: H1 and H3 are different atoms to the model")
        XCTAssertEqual(perAtom.energy, .infinity)
        XCTAssertEqual(perAtom.logWeight, -.infinity)
        XCTAssertEqual(perAtom.positions, swapped.map { $0 * 10 / 10 }, "a failed sample keeps its raw order (nm)")
        XCTAssertEqual(calls, 1, "one energy, of the raw coordinates, for a sample that fails the topology check")
        XCTAssertEqual(perAtom.rawEnergy, Self.toyEnergy(perAtom.positions), "the raw energy is of the coordinates as written")
        XCTAssertEqual(perAtom.rawLogWeight(kT: Self.kT), -perAtom.rawEnergy / Self.kT - perAtom.logQ)
        XCTAssertFalse(perAtom.isomorphismBudgetExhausted, "the search decided: the graphs differ")
    }

    func testABrokenBondFailsWithOnlyARawEnergyAndTheSummaryCountsIt() throws {
        let x = Self.molecule()
        var broken = x
        broken[3 * 8] += 0.3   // a methyl hydrogen pulled off
        var calls = 0
        let post = postprocessor { calls += 1 }
        let records = [
            post.record(index: 0, modelUnits: x.map { $0 * 10 }, logPrior: -5, deltaLogDet: 2),
            post.record(index: 1, modelUnits: broken.map { $0 * 10 }, logPrior: -5, deltaLogDet: 2),
            post.record(index: 2, modelUnits: x.map { -$0 * 10 }, logPrior: -6, deltaLogDet: 1),
        ]
        XCTAssertEqual(calls, 3, "one energy per sample: the valid ones' and the broken one's raw energy")
        XCTAssertFalse(records[1].topologyOK || records[1].chiralityOK)
        XCTAssertEqual(records[1].logWeight, -.infinity)
        XCTAssertEqual(records[1].energy, .infinity, "no energy for weighting an invalid sample")
        XCTAssertTrue(records[1].rawEnergy.isFinite, "but a raw energy for the clipped SNIS protocol")
        let summary = SamplePostprocessor.summarize(records, evaluations: 17)
        XCTAssertEqual(summary.count, 3)
        XCTAssertEqual(summary.valid, 2)
        XCTAssertEqual(summary.topologyFailures, 1)
        XCTAssertEqual(summary.isomorphismBudgetExhausted, 0)
        XCTAssertEqual(summary.chiralityFixes, 1)
        XCTAssertEqual(summary.chiralityFailures, 0)
        XCTAssertEqual(summary.integrationFailures, 0)
        XCTAssertEqual(summary.fieldEvaluations, 17)
        XCTAssertEqual(summary.energyMinimum, records[0].energy, accuracy: 1e-9 * records[0].energy)
        XCTAssertEqual(summary.effectiveSampleSize, ImportanceWeights.effectiveSampleSize(logWeights: [records[0].logWeight, records[2].logWeight]))
        XCTAssertEqual(summary.roundTripChecked, 0)
        XCTAssertNil(summary.paretoKHat, "2 valid samples: too few for a Pareto fit")
        XCTAssertFalse(summary.description.contains("Pareto"), summary.description)
        // With 30 valid samples of unequal weights the summary gives PSIS's k̂ of their log weights.
        let many = (0..<30).map { post.record(index: $0, modelUnits: x.map { $0 * 10 }, logPrior: -5 - 3 * sin(1.3 * Double($0)), deltaLogDet: 2) }
        let manySummary = SamplePostprocessor.summarize(many, evaluations: 30)
        let khat = try XCTUnwrap(ParetoSmoothing.khat(logWeights: many.map(\.logWeight)))
        XCTAssertEqual(manySummary.paretoKHat, khat)
        XCTAssertTrue(manySummary.description.contains(String(format: ", Pareto k %.2f over the valid samples", khat)), manySummary.description)
    }
}
