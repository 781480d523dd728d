// The exact assignment solver (Jonker–Volgenant) against brute force over all permutations for
// n ≤ 7, against a textbook O(n³) Hungarian method for larger n, on known answers, with many ties,
// and with its LP-duality certificate.
import Transport
import Foundation
import TestSupport
import XCTest

final class AssignmentTests: XCTestCase {
    func testKnownAnswers() {
        // scipy's linear_sum_assignment example: rows → columns 1, 0, 2, total 5.
        let costs: [Int32] = [4, 1, 3, 2, 0, 5, 3, 2, 2]
        let solution = LinearAssignment.solve(costs: costs, size: 3)
        XCTAssertEqual(solution.columnOfRow, [1, 0, 2])
        XCTAssertEqual(solution.totalCost, 5)
        XCTAssertTrue(LinearAssignment.isOptimal(solution, costs: costs, size: 3))
        // A permutation matrix of zeros in a sea of ones is found exactly.
        let target = [3, 0, 4, 1, 2]
        var ones = [Int32](repeating: 1, count: 25)
        for (row, column) in target.enumerated() { ones[row * 5 + column] = 0 }
        XCTAssertEqual(LinearAssignment.solve(costs: ones, size: 5).columnOfRow, target)
        // Negative costs, 1×1 and 0×0.
        XCTAssertEqual(LinearAssignment.solve(costs: [-5, 3, 2, -7], size: 2).totalCost, -12)
        XCTAssertEqual(LinearAssignment.solve(costs: [42], size: 1).totalCost, 42)
        XCTAssertEqual(LinearAssignment.solve(costs: [], size: 0).columnOfRow, [])
        // The certificate rejects a plan that is not optimal.
        var wrong = solution
        wrong.columnOfRow = [0, 1, 2]
        XCTAssertFalse(LinearAssignment.isOptimal(wrong, costs: costs, size: 3))
    }

    func testMatchesBruteForceOnSmallRandomProblems() {
        var random = SplitMix64(seed: 11)
        for n in 2...7 {
            for trial in 0..<(n <= 5 ? 60 : 15) {
                let range: UInt64 = trial % 3 == 0 ? 4 : 1_000_000   // few distinct values: many ties
                let costs = (0..<(n * n)).map { _ in Int32(random.next() % range) }
                let solution = LinearAssignment.solve(costs: costs, size: n)
                XCTAssertEqual(solution.totalCost, bruteForce(costs, n), "n = \(n), trial \(trial)")
                XCTAssertEqual(Set(solution.columnOfRow).count, n, "a permutation")
                XCTAssertTrue(LinearAssignment.isOptimal(solution, costs: costs, size: n))
            }
        }
    }

    func testMatchesTheHungarianMethodOnLargerProblems() {
        var random = SplitMix64(seed: 12)
        for (n, range) in [(40, UInt64(3)), (64, 1000), (150, 20_000_000), (200, 2)] {
            let costs = (0..<(n * n)).map { _ in Int32(random.next() % range) }
            let solution = LinearAssignment.solve(costs: costs, size: n)
            XCTAssertEqual(solution.totalCost, hungarian(costs, n), "n = \(n)")
            XCTAssertTrue(LinearAssignment.isOptimal(solution, costs: costs, size: n), "n = \(n)")
        }
    }

    private func bruteForce(_ costs: [Int32], _ n: Int) -> Int64 {
        SmallAssignment.permutations(of: n).map { p in (0..<n).reduce(Int64(0)) { $0 + Int64(costs[$1 * n + p[$1]]) } }.min()!
    }

    /// The O(n³) Hungarian method with potentials (the classic e-maxx formulation), as a reference.
    private func hungarian(_ costs: [Int32], _ n: Int) -> Int64 {
        var u = [Int64](repeating: 0, count: n + 1), v = u
        var p = [Int](repeating: 0, count: n + 1), way = p
        for i in 1...n {
            p[0] = i
            var j0 = 0
            var minv = [Int64](repeating: .max, count: n + 1)
            var used = [Bool](repeating: false, count: n + 1)
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Int64.max, j1 = 0
                for j in 1...n where !used[j] {
                    let current = Int64(costs[(i0 - 1) * n + j - 1]) - u[i0] - v[j]
                    if current < minv[j] { minv[j] = current; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...n {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        return (1...n).reduce(Int64(0)) { $0 + Int64(costs[(p[$1] - 1) * n + $1 - 1]) }
    }
}
