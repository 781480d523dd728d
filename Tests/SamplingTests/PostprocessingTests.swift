// The pieces of sample post-processing on real alanine-dipeptide frames: the prior density, the
// bond-graph check with its permutation, the chirality check and mirror fix, and the ESS.
import Foundation
import MDData
import Model
import Sampling
import TestSupport
import Evaluation
import FlowModel
import XCTest

final class PostprocessingTests: XCTestCase {
    private func alanine() throws -> (elements: [String], bonds: [[Int]], frame: [Double]) {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        return (trajectory.topology.atoms.map(\.element), trajectory.topology.bonds, try trajectory.readFrames(4..<5).map(Double.init))
    }

    func testPriorDensityOnTheMeanFreeSubspace() {
        let z = MeanFreePrior.sample(atoms: 7, seed: 3, index: 11)
        for axis in 0..<3 {
            XCTAssertEqual(stride(from: axis, to: 21, by: 3).map { z[$0] }.reduce(0, +), 0, accuracy: 1e-12, "mean-free")
        }
        let expected = -0.5 * z.map { $0 * $0 }.reduce(0, +) - 1.5 * 6 * log(2 * Double.pi)   // 3(N−1) = 18 dimensions
        XCTAssertEqual(MeanFreePrior.logDensity(z[...], atoms: 7), expected, accuracy: 1e-12)
        XCTAssertEqual(MeanFreePrior.sample(atoms: 7, seed: 3, index: 11), z, "seeded by (seed, index)")
        XCTAssertNotEqual(MeanFreePrior.sample(atoms: 7, seed: 3, index: 12), z)
    }

    func testBondGraphCheckFindsThePermutation() throws {
        let (elements, bonds, frame) = try alanine()
        let reference = BondGraph(elements: elements, bonds: bonds)
        let inferred = BondGraph.inferred(elements: elements, positions: frame[...])
        XCTAssertEqual(inferred.neighbours, reference.neighbours, "an MD frame's distances give the topology's bonds")
        XCTAssertEqual(reference.isomorphism(to: inferred).map { mapping in mapping.indices.allSatisfy { mapping[$0] == $0 || elements[$0] == "H" } }, true)
        // An H where the O was is not the same molecule.
        var swapped = frame
        for axis in 0..<3 { swapped.swapAt(3 * 1 + axis, 3 * 5 + axis) }   // swap H1 with O: breaks the chemistry
        XCTAssertNil(reference.isomorphism(to: BondGraph.inferred(elements: elements, positions: swapped[...])),
                     "an H where the O was is not the same molecule")
        // Pull one hydrogen 0.3 nm away: it has no bond, the check fails.
        var broken = frame
        broken[3 * 7] += 0.3
        XCTAssertNil(reference.isomorphism(to: BondGraph.inferred(elements: elements, positions: broken[...])))
        // A relabelled sample (atoms in another order) maps back onto the reference order.
        let permutation = Array((0..<22).reversed())
        var relabelledPositions = [Double](repeating: 0, count: 66)
        for (new, old) in permutation.enumerated() { for axis in 0..<3 { relabelledPositions[3 * new + axis] = frame[3 * old + axis] } }
        let relabelledElements = permutation.map { elements[$0] }
        let sampleGraph = BondGraph.inferred(elements: relabelledElements, positions: relabelledPositions[...])
        let toSample = try XCTUnwrap(reference.isomorphism(to: sampleGraph))
        for referenceAtom in 0..<22 {
            XCTAssertEqual(elements[referenceAtom], relabelledElements[toSample[referenceAtom]])
            let heavy = elements[referenceAtom] != "H"
            if heavy { XCTAssertEqual(permutation[toSample[referenceAtom]], referenceAtom, "heavy atoms map back exactly") }
        }
    }

    /// Under the model's atom classes the isomorphism may not swap atoms the model tells apart: a
    /// sample whose HA sits on Cβ and one of whose Hβ sits on Cα is the same molecule by elements,
    /// but not the molecule the model labelled, whose log q we have.
    func testTopologyCheckRespectsTheModelsAtomClasses() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let (elements, bonds, frame) = try alanine()
        let names = trajectory.topology.atoms.map(\.name)
        XCTAssertEqual([names[9], names[11]], ["HA", "HB1"])
        var swapped = frame
        for axis in 0..<3 { swapped.swapAt(3 * 9 + axis, 3 * 11 + axis) }
        let byElement = BondGraph(elements: elements, bonds: bonds)
        XCTAssertNotNil(byElement.isomorphism(to: BondGraph.inferred(elements: elements, positions: swapped[...])))
        // `atoms` tells HA from HB1 (the swap is refused); `element` cannot (the swap is repaired).
        for (encoding, tellsApart) in [(EncodingKind.atoms, true), (.element, false)] {
            let (rows, width) = try PeptideEncoding.features(of: trajectory, encoding: encoding)
            let labels = SamplePostprocessor.atomClassLabels(elements: elements, features: rows, width: width)
            let reference = byElement.relabelled(labels)
            let match = reference.isomorphism(to: BondGraph.inferred(elements: elements, positions: swapped[...]).relabelled(labels))
            XCTAssertEqual(match == nil, tellsApart, "\(encoding)")
            // The unswapped frame, and one whose methyl hydrogens trade places, still pass.
            XCTAssertNotNil(reference.isomorphism(to: BondGraph.inferred(elements: elements, positions: frame[...]).relabelled(labels)))
            var methyl = frame
            for axis in 0..<3 { methyl.swapAt(3 * 11 + axis, 3 * 12 + axis) }
            XCTAssertNotNil(reference.isomorphism(to: BondGraph.inferred(elements: elements, positions: methyl[...]).relabelled(labels)))
        }
    }

    func testChiralityCheckAndMirrorFix() throws {
        let (elements, bonds, frame) = try alanine()
        let centres = ChiralCentres(elements: elements, bonds: bonds, reference: frame[...])
        XCTAssertEqual(centres.centres.map(\.centre), [8], "the alanine Cα is the one stereocentre")
        XCTAssertEqual(centres.verdict(frame[...]), .correct)
        XCTAssertEqual(centres.verdict(frame.map { -$0 }[...]), .mirrored, "the mirror image has the D configuration")
    }

    /// Val-Leu: Val Cβ and Leu Cγ each carry two methyls that the bond graph cannot tell apart, so a
    /// sample whose methyls are the other way round (as the `element` encoding's isomorphism may match
    /// them) is not a chirality error; a true mirror image is.
    func testEquivalentMethylsAreNotStereocentres() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("vl_zwitterion.h5"))
        let elements = trajectory.topology.atoms.map(\.element), bonds = trajectory.topology.bonds
        let names = trajectory.topology.atoms.map(\.name)
        let frame = try trajectory.readFrames(0..<1).map(Double.init)
        let centres = ChiralCentres(elements: elements, bonds: bonds, reference: frame[...])
        XCTAssertEqual(centres.centres.map { names[$0.centre] }, ["CA", "CA"], "only the two Cα are stereocentres")
        func swapped(_ first: ClosedRange<Int>, _ second: ClosedRange<Int>, in x: [Double]) -> [Double] {
            var y = x
            for (a, b) in zip(first, second) { for axis in 0..<3 { y.swapAt(3 * a + axis, 3 * b + axis) } }
            return y
        }
        let valMethyls = swapped(10...13, 14...17, in: frame)   // CG1 H×3 ↔ CG2 H×3
        let leuMethyls = swapped(29...32, 33...36, in: frame)   // CD1 H×3 ↔ CD2 H×3
        XCTAssertEqual(names[10], "CG1"); XCTAssertEqual(names[14], "CG2"); XCTAssertEqual(names[29], "CD1"); XCTAssertEqual(names[33], "CD2")
        for sample in [valMethyls, leuMethyls, swapped(10...13, 14...17, in: leuMethyls)] {
            XCTAssertEqual(centres.verdict(sample[...]), .correct)
            // The bond graph of such a sample is the peptide's, so the whole check passes.
            XCTAssertNotNil(BondGraph(elements: elements, bonds: bonds).isomorphism(to: BondGraph.inferred(elements: elements, positions: sample[...])))
        }
        XCTAssertEqual(centres.verdict(frame.map { -$0 }[...]), .mirrored, "the mirror image has D-Val and D-Leu")
        // Only the Val residue (atoms 0–17) reflected: its Cα sign flips and Leu's does not, so the signs
        // are mixed and the sample is rejected.
        var halfMirrored = frame
        for atom in 0..<18 { halfMirrored[3 * atom] = -frame[3 * atom] }
        XCTAssertEqual(centres.verdict(halfMirrored[...]), .mixed)
        // The check does not depend on how the topology lists its bonds, or on duplicates.
        let relisted = ChiralCentres(elements: elements, bonds: bonds.reversed().map { $0.reversed() } + bonds.prefix(5), reference: frame[...])
        XCTAssertEqual(relisted, centres)
        XCTAssertEqual(relisted.verdict(frame.map { -$0 }[...]), .mirrored)
    }

    func testEffectiveSampleSize() {
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [Double](repeating: -3.2, count: 50)), 1, accuracy: 1e-12)
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [0] + [Double](repeating: -200, count: 9)), 0.1, accuracy: 1e-12)
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [0, -.infinity, -.infinity, -.infinity]), 0.25, accuracy: 1e-12)
        // Two equal weights among four: ESS = (2w)²/(2w²)/4 = 0.5.
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [1, 1, -.infinity, -.infinity]), 0.5, accuracy: 1e-12)
    }
}
