// The bond-graph check's three outcomes on alanine dipeptide: isomorphic (with the permutation),
// not isomorphic (a proof: the search finished), and undecided because the search budget ran out,
// which `tbg sample` and `tbg evaluate` count apart from "not isomorphic".
import MDData
import Sampling
import TestSupport
import XCTest

final class IsomorphismBudgetTests: XCTestCase {
    func testBudgetExhaustedIsNotTheSameAsNotIsomorphic() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let elements = trajectory.topology.atoms.map(\.element)
        let frame = try trajectory.readFrames(4..<5).map(Double.init)
        let reference = BondGraph(elements: elements, bonds: trajectory.topology.bonds)
        let inferred = BondGraph.inferred(elements: elements, positions: frame[...])

        guard case .isomorphic(let mapping) = reference.match(to: inferred) else { return XCTFail("an MD frame is the molecule") }
        XCTAssertEqual(reference.isomorphism(to: inferred), mapping)
        // 22 atoms need at least 22 extension steps: a budget of 5 cannot decide, and says so.
        XCTAssertEqual(reference.match(to: inferred, budget: 5), .budgetExhausted)
        XCTAssertEqual(reference.match(to: inferred, budget: 200), .isomorphic(mapping))

        // A hydrogen pulled 0.3 nm away loses its bond: different degrees, decided at once, whatever the budget.
        var broken = frame
        broken[3 * 7] += 0.3
        let brokenGraph = BondGraph.inferred(elements: elements, positions: broken[...])
        XCTAssertEqual(reference.match(to: brokenGraph, budget: 1), .notIsomorphic)
        // H1 and O swapped: the same degrees, so the search itself must prove it.
        var swapped = frame
        for axis in 0..<3 { swapped.swapAt(3 * 1 + axis, 3 * 5 + axis) }
        let swappedGraph = BondGraph.inferred(elements: elements, positions: swapped[...])
        XCTAssertEqual(reference.match(to: swappedGraph), .notIsomorphic)
        XCTAssertNil(reference.isomorphism(to: swappedGraph))
        XCTAssertEqual(BondGraph.searchBudget, 200_000)
    }
}
