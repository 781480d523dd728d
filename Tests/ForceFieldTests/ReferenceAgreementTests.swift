// The Swift force field against OpenMM's Reference platform (double precision), per force term,
// in total, and in the forces, on every reference entry of the generator's files: MD frames and
// (in Tests/Fixtures/energy) displaced, compressed, stretched and engulfed-hydrogen frames.
//
// Tolerance (issue #3): |ΔE| ≤ max(1e-6·|E|, 1e-4 kJ/mol) per term and in total. Forces: the same
// rule per component, against the largest force component of the frame.
import ForceField
import Foundation
import MDData
import TestSupport
import XCTest

final class ReferenceAgreementTests: XCTestCase {
    static func referenceFiles() -> [String] {
        var files = [Fixtures.path("ad2_capped.h5"), Fixtures.path("ks_zwitterion.h5")]
        let energyDirectory = Fixtures.path("energy")
        if let names = try? FileManager.default.contentsOfDirectory(atPath: energyDirectory) {
            files += names.filter { $0.hasSuffix(".h5") && !$0.hasSuffix(".part.h5") }.sorted().map { energyDirectory + "/" + $0 }
        }
        return files
    }

    private func allowed(_ reference: Double) -> Double { max(1e-6 * abs(reference), 1e-4) }

    func testEnergiesAndForcesMatchOpenMMReference() throws {
        var entriesChecked = 0
        var worstRelative = 0.0, worstAbsolute = 0.0
        for path in Self.referenceFiles() {
            let trajectory = try TrajectoryFile(path: path)
            let reference = try XCTUnwrap(try trajectory.referenceEnergies(), path)
            let system = try ForceFieldSystem(xml: trajectory.systemXML)
            // Reference columns follow the System's forces; ours skip the energy-free CMMotionRemover.
            let columns = reference.forceNames.enumerated().filter { $0.element != "CMMotionRemover" }
            XCTAssertEqual(columns.map(\.element), system.termNames, path)
            let batch = reference.positions.withUnsafeBufferPointer {
                EnergyEvaluator(system: system).evaluate($0, frameCount: reference.frameCount, forces: true, threads: 2)
            }
            let forces = try XCTUnwrap(batch.forces)
            let stride = trajectory.atomCount * 3
            for entry in 0..<reference.frameCount {
                let label = "\((path as NSString).lastPathComponent) entry \(entry)"
                for (term, column) in columns.enumerated() {
                    let expected = reference.energies[entry * reference.forceNames.count + column.offset]
                    let actual = batch.termEnergies[entry * system.terms.count + term]
                    XCTAssertEqual(actual, expected, accuracy: allowed(expected), "\(label) \(column.element)")
                }
                XCTAssertEqual(batch.totals[entry], reference.total[entry], accuracy: allowed(reference.total[entry]), "\(label) total")
                let deviation = abs(batch.totals[entry] - reference.total[entry])
                worstAbsolute = max(worstAbsolute, deviation)
                worstRelative = max(worstRelative, deviation / abs(reference.total[entry]))
                let expectedForces = Array(reference.forces[(entry * stride)..<((entry + 1) * stride)])
                let scale = expectedForces.map(abs).max() ?? 1
                assertClose(Array(forces[(entry * stride)..<((entry + 1) * stride)]), expectedForces,
                            absolute: max(1e-6 * scale, 1e-4), relative: 1e-6, "\(label) forces")
                entriesChecked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(entriesChecked, 10)
        print("force field vs OpenMM Reference: \(entriesChecked) entries, worst total deviation \(worstAbsolute) kJ/mol, \(worstRelative) relative")
    }
}
