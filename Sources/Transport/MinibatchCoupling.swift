// Minibatch optimal-transport couplings for flow matching (field.md §3).
//
// Given n prior samples x₀ and n data samples x₁ of one molecule (model units, centred), choose the
// bijection σ minimising Σⱼ c(x₀_σ(j), x₁ⱼ) — the exact OT plan between the two empirical measures
// with uniform weights (Birkhoff: a permutation) — and pair x₁ⱼ with x₀_σ(j):
//   euclidean: c = |x₀ − x₁|²                       (OT-CFM: Tong et al. 2023; Pooladian et al. 2023)
//   aligned:   c = min_R |R x₀ − x₁|²                 (equivariant OT FM: Klein, Krämer & Noé 2023)
// With `aligned` the paired prior sample is then replaced by its best superposition R x₀∘π onto x₁
// over rotations and permutations π of interchangeable atoms (exact by enumeration where feasible,
// `RigidAlignment.align`), which has the same (rotation- and permutation-invariant) prior density,
// so the coupling's marginals stay the prior and the data. The plan's cost leaves out π: the
// permutations only exchange a few hydrogens and would cost ~10× more per pair in the n² matrix
// (`tbg bench train --coupling equivariant_ot`).
//
// The assignment is solved exactly by `LinearAssignment` on integer costs qᵢⱼ = round(cᵢⱼ · s) with
// s = 2²⁹ / max c: the plan is optimal for the quantised costs, whose relative error is ≤ 2⁻³⁰.
// Everything is a deterministic function of the inputs, so ranks that call it with the same global
// batch obtain the same pairs.

public enum CouplingCost: Sendable {
    case euclidean
    case aligned(InterchangeableAtoms)
}

public struct MinibatchPairing: Sendable {
    /// σ: data sample j is paired with prior sample priorOfData[j].
    public var priorOfData: [Int]
    /// The prior sample paired with each data sample (n × atoms × 3), superposed onto it for `aligned`.
    public var pairedPrior: [Double]
    /// Mean paired cost before and after (independent pairs j ↔ j, and the plan), model units².
    public var independentCost: Double
    public var coupledCost: Double
}

public enum MinibatchCoupling {
    /// The n × n cost matrix c[i·n + j] = c(x₀ᵢ, x₁ⱼ), row-major; or only its rows `rows` (then
    /// (rows.count) × n), so that ranks can share the work: every entry is computed the same way
    /// whichever rows are asked for.
    public static func costs(prior: [Double], data: [Double], count n: Int, atoms: Int, cost: CouplingCost,
                             rows: Range<Int>? = nil) -> [Double] {
        let stride = atoms * 3
        let rows = rows ?? 0..<n
        var costs = [Double](repeating: 0, count: rows.count * n)
        prior.withUnsafeBufferPointer { x0 in
            data.withUnsafeBufferPointer { x1 in
                for i in rows {
                    for j in 0..<n {
                        let a = x0.baseAddress! + i * stride, b = x1.baseAddress! + j * stride
                        switch cost {
                        case .euclidean:
                            var sum = 0.0
                            for k in 0..<stride { sum += (a[k] - b[k]) * (a[k] - b[k]) }
                            costs[(i - rows.lowerBound) * n + j] = sum
                        case .aligned:
                            costs[(i - rows.lowerBound) * n + j] = RigidAlignment.kabschDistance(a, onto: b, atoms: atoms)
                        }
                    }
                }
            }
        }
        return costs
    }

    /// The exact assignment of the quantised costs: σ with data j ↔ prior σ(j).
    public static func assignment(costs: [Double], count n: Int) -> [Int] {
        let maximum = costs.max() ?? 0
        let scale = maximum > 0 ? Double(1 << 29) / maximum : 1
        // Rows = data samples, columns = prior samples.
        var quantised = [Int32](repeating: 0, count: n * n)
        for j in 0..<n { for i in 0..<n { quantised[j * n + i] = Int32((costs[i * n + j] * scale).rounded()) } }
        return LinearAssignment.solve(costs: quantised, size: n).columnOfRow
    }

    /// Pairs n prior and n data samples of one molecule (each n × atoms × 3, centred); `matrix` is
    /// their cost matrix when the caller has it already (e.g. assembled from ranks' rows).
    public static func pair(prior: [Double], data: [Double], count n: Int, atoms: Int, cost: CouplingCost,
                            matrix given: [Double]? = nil) -> MinibatchPairing {
        precondition(prior.count == n * atoms * 3 && data.count == n * atoms * 3, "prior and data must hold n molecules of `atoms` atoms")
        let stride = atoms * 3
        let matrix = given ?? costs(prior: prior, data: data, count: n, atoms: atoms, cost: cost)
        let sigma = n > 1 ? assignment(costs: matrix, count: n) : Array(0..<n)
        var paired = [Double](repeating: 0, count: prior.count)
        var coupled = 0.0, independent = 0.0
        prior.withUnsafeBufferPointer { x0 in
            data.withUnsafeBufferPointer { x1 in
                paired.withUnsafeMutableBufferPointer { out in
                    for j in 0..<n {
                        independent += matrix[j * n + j]
                        let a = x0.baseAddress! + sigma[j] * stride, b = x1.baseAddress! + j * stride
                        switch cost {
                        case .euclidean:
                            for k in 0..<stride { out[j * stride + k] = a[k] }
                            coupled += matrix[sigma[j] * n + j]
                        case .aligned(let groups):
                            let superposition = RigidAlignment.align(a, onto: b, groups: groups)
                            superposition.apply(to: a, atoms: atoms, into: out.baseAddress! + j * stride)
                            coupled += superposition.squaredDistance
                        }
                    }
                }
            }
        }
        return MinibatchPairing(priorOfData: sigma, pairedPrior: paired, independentCost: independent / Double(max(n, 1)),
                                coupledCost: coupled / Double(max(n, 1)))
    }
}

/// Assignment for the small problems of atom groups: enumeration up to 6 atoms, else Jonker–Volgenant.
public enum SmallAssignment {
    /// All permutations of 0..<n in lexicographic order.
    public static func permutations(of n: Int) -> [[Int]] {
        var result: [[Int]] = []
        var current = Array(0..<n)
        func visit(_ k: Int) {
            if k == n { result.append(current); return }
            for i in k..<n {
                current.swapAt(k, i)
                visit(k + 1)
                current.swapAt(k, i)
            }
        }
        visit(0)
        return result
    }

    /// The column chosen for each row of the n × n `costs`, minimising the total.
    public static func solve(_ costs: [Double], size n: Int) -> [Int] {
        if n <= 6 {
            var best = Array(0..<n), bestCost = Double.infinity
            for p in permutations(of: n) {
                var total = 0.0
                for row in 0..<n { total += costs[row * n + p[row]] }
                if total < bestCost { bestCost = total; best = p }
            }
            return best
        }
        let maximum = costs.max() ?? 0
        let scale = maximum > 0 ? Double(1 << 29) / maximum : 1
        return LinearAssignment.solve(costs: costs.map { Int32(($0 * scale).rounded()) }, size: n).columnOfRow
    }
}
