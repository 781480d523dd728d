// Optimal superposition of one molecule onto another over proper rotations (Kabsch), and over
// rotations together with permutations of interchangeable atoms (equivariant OT flow matching:
// Klein, Krämer & Noé, NeurIPS 2023, §3; the pairs' cost of field.md §3).
//
// Rotation: Horn's quaternion method (B. K. P. Horn, "Closed-form solution of absolute orientation
// using unit quaternions", J. Opt. Soc. Am. A 4, 1987): with the cross-covariance M = Σₖ aₖ bₖᵀ of
// two centred sets, the largest eigenvalue λ of Horn's symmetric 4×4 matrix K(M) gives
//   min_R Σₖ |R aₖ − bₖ|² = Σ|a|² + Σ|b|² − 2λ,
// and its eigenvector is the unit quaternion of the optimal R. The eigenproblem is solved by cyclic
// Jacobi rotations in Double (exact to rounding; no SVD sign fix-up is needed for proper rotations).
//
// Permutations: atoms are interchangeable when the model cannot tell them apart (identical node
// features, e.g. the three hydrogens of a methyl group under the `atoms` encoding). For a
// permutation π the aligned prior is a'ₖ = R a_{π(k)}. `align` enumerates every π of the groups
// when there are at most `exhaustiveLimit` of them (alanine dipeptide: 3 methyl groups, 6³ = 216),
// which is exact; otherwise it alternates Kabsch and per-group assignment from the identity (a
// local optimum, exact when the rotation is well determined by the unpermuted atoms).
//
// Layout: coordinates are atoms × 3, row-major, Double, both sets centred (mean-free).

/// Sets of atoms that may be permuted among themselves (each of size ≥ 2, disjoint).
public struct InterchangeableAtoms: Sendable, Equatable {
    public var groups: [[Int]]
    public let atomCount: Int

    public init(groups: [[Int]], atomCount: Int) {
        self.groups = groups.filter { $0.count >= 2 }
        self.atomCount = atomCount
    }

    /// Atoms whose feature rows (atoms × width) are identical form a group.
    public static func identicalRows<T: Equatable & Hashable>(_ features: [T], atoms: Int, width: Int) -> InterchangeableAtoms {
        var byRow: [[T]: [Int]] = [:]
        var order: [[T]] = []
        for atom in 0..<atoms {
            let row = Array(features[(atom * width)..<((atom + 1) * width)])
            if byRow[row] == nil { order.append(row) }
            byRow[row, default: []].append(atom)
        }
        return InterchangeableAtoms(groups: order.compactMap { byRow[$0]!.count >= 2 ? byRow[$0]! : nil }, atomCount: atoms)
    }

    /// The number of permutations of all groups, ∏ |G|! (saturating).
    public var permutationCount: Int {
        var total = 1
        for group in groups {
            for k in 2...max(2, group.count) where group.count >= 2 {
                let (product, overflow) = total.multipliedReportingOverflow(by: k)
                if overflow { return Int.max }
                total = product
            }
        }
        return total
    }
}

public struct Superposition: Sendable {
    /// π: aligned atom k takes the moving set's atom π(k).
    public var permutation: [Int]
    /// R, 3×3 row-major: aligned a'ₖ = R a_{π(k)}.
    public var rotation: [Double]
    /// Σₖ |R a_{π(k)} − bₖ|².
    public var squaredDistance: Double

    /// The moving set after the superposition (atoms × 3).
    public func apply(to moving: UnsafePointer<Double>, atoms: Int, into result: UnsafeMutablePointer<Double>) {
        for k in 0..<atoms {
            let a = moving + 3 * permutation[k]
            for row in 0..<3 {
                result[3 * k + row] = rotation[3 * row] * a[0] + rotation[3 * row + 1] * a[1] + rotation[3 * row + 2] * a[2]
            }
        }
    }
}

public enum RigidAlignment {
    /// Default bound on exhaustive enumeration of group permutations.
    public static let exhaustiveLimit = 1296

    /// The optimal proper rotation of `moving` (permuted by `permutation`, identity when nil) onto
    /// `target`, and the remaining squared distance.
    public static func kabsch(_ moving: UnsafePointer<Double>, onto target: UnsafePointer<Double>, atoms: Int,
                              permutation: [Int]? = nil) -> Superposition {
        var m = [Double](repeating: 0, count: 9)
        var norms = 0.0
        for k in 0..<atoms {
            let a = moving + 3 * (permutation?[k] ?? k), b = target + 3 * k
            for i in 0..<3 {
                norms += a[i] * a[i] + b[i] * b[i]
                for j in 0..<3 { m[3 * i + j] += a[i] * b[j] }
            }
        }
        let (lambda, q) = hornMaximum(m)
        return Superposition(permutation: permutation ?? Array(0..<atoms), rotation: rotationMatrix(q),
                             squaredDistance: max(0, norms - 2 * lambda))
    }

    /// min_R Σₖ |R aₖ − bₖ|² alone, without the rotation: the largest root of Horn's characteristic
    /// polynomial P(λ) = λ⁴ + c₂λ² + c₁λ + c₀ (c₂ = −2 Σ M²ᵢⱼ, c₁ = −8 det M, c₀ = det K) by Newton's
    /// method from the upper bound (Σ|a|² + Σ|b|²)/2 (Theobald's QCP, Acta Cryst. A61, 2005), with the
    /// full eigen-solution as a fallback when Newton does not settle. About 10× cheaper than `kabsch`.
    public static func kabschDistance(_ moving: UnsafePointer<Double>, onto target: UnsafePointer<Double>, atoms: Int) -> Double {
        var m = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        var norms = 0.0
        for k in 0..<atoms {
            let a = moving + 3 * k, b = target + 3 * k
            let (ax, ay, az, bx, by, bz) = (a[0], a[1], a[2], b[0], b[1], b[2])
            norms += ax * ax + ay * ay + az * az + bx * bx + by * by + bz * bz
            m.0 += ax * bx; m.1 += ax * by; m.2 += ax * bz
            m.3 += ay * bx; m.4 += ay * by; m.5 += ay * bz
            m.6 += az * bx; m.7 += az * by; m.8 += az * bz
        }
        if let lambda = largestRoot([m.0, m.1, m.2, m.3, m.4, m.5, m.6, m.7, m.8], norms: norms) { return max(0, norms - 2 * lambda) }
        return kabsch(moving, onto: target, atoms: atoms).squaredDistance
    }

    /// The largest eigenvalue of Horn's K(M) by Newton's method on its characteristic polynomial
    /// from the upper bound norms/2 = (Σ|a|² + Σ|b|²)/2; nil when it does not settle.
    static func largestRoot(_ m: [Double], norms: Double) -> Double? {
        let (sxx, sxy, sxz, syx, syy, syz, szx, szy, szz) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        let k = hornMatrix(m)
        let squares = m.reduce(0) { $0 + $1 * $1 }
        let detM = sxx * (syy * szz - syz * szy) - sxy * (syx * szz - syz * szx) + sxz * (syx * szy - syy * szx)
        let c2 = -2 * squares, c1 = -8 * detM, c0 = determinant4(k)
        var lambda = norms / 2
        for _ in 0..<50 {
            let l2 = lambda * lambda
            let p = (l2 + c2) * l2 + c1 * lambda + c0
            let dp = 4 * l2 * lambda + 2 * c2 * lambda + c1
            guard dp != 0 else { return nil }
            let next = lambda - p / dp
            if abs(next - lambda) <= 1e-13 * max(1, abs(next)) { return next }
            lambda = next
        }
        return nil
    }

    static func determinant4(_ a: [Double]) -> Double {
        let s0 = a[0] * a[5] - a[4] * a[1], s1 = a[0] * a[6] - a[4] * a[2], s2 = a[0] * a[7] - a[4] * a[3]
        let s3 = a[1] * a[6] - a[5] * a[2], s4 = a[1] * a[7] - a[5] * a[3], s5 = a[2] * a[7] - a[6] * a[3]
        let c5 = a[10] * a[15] - a[14] * a[11], c4 = a[9] * a[15] - a[13] * a[11], c3 = a[9] * a[14] - a[13] * a[10]
        let c2 = a[8] * a[15] - a[12] * a[11], c1 = a[8] * a[14] - a[12] * a[10], c0 = a[8] * a[13] - a[12] * a[9]
        return s0 * c5 - s1 * c4 + s2 * c3 + s3 * c2 - s4 * c1 + s5 * c0
    }

    /// The best superposition over rotations and permutations of `groups` (see the file comment).
    public static func align(_ moving: UnsafePointer<Double>, onto target: UnsafePointer<Double>, groups: InterchangeableAtoms,
                             exhaustiveLimit: Int = RigidAlignment.exhaustiveLimit, rounds: Int = 4) -> Superposition {
        let atoms = groups.atomCount
        if groups.groups.isEmpty { return kabsch(moving, onto: target, atoms: atoms) }
        if groups.permutationCount <= exhaustiveLimit { return exhaustive(moving, onto: target, groups: groups) }
        return alternating(moving, onto: target, groups: groups, rounds: rounds)
    }

    /// Alternating Kabsch and per-group assignment, from the identity permutation.
    public static func alternating(_ moving: UnsafePointer<Double>, onto target: UnsafePointer<Double>, groups: InterchangeableAtoms,
                                   rounds: Int) -> Superposition {
        let atoms = groups.atomCount
        var best = kabsch(moving, onto: target, atoms: atoms)
        for _ in 0..<max(1, rounds) {
            var permutation = best.permutation
            let r = best.rotation
            for group in groups.groups {
                // c[k][m] = |R a_m − b_k|² for k, m in the group.
                let n = group.count
                var costs = [Double](repeating: 0, count: n * n)
                for (row, k) in group.enumerated() {
                    let b = target + 3 * k
                    for (column, atom) in group.enumerated() {
                        let a = moving + 3 * atom
                        var sum = 0.0
                        for i in 0..<3 {
                            let d = r[3 * i] * a[0] + r[3 * i + 1] * a[1] + r[3 * i + 2] * a[2] - b[i]
                            sum += d * d
                        }
                        costs[row * n + column] = sum
                    }
                }
                let choice = SmallAssignment.solve(costs, size: n)
                for (row, k) in group.enumerated() { permutation[k] = group[choice[row]] }
            }
            let next = kabsch(moving, onto: target, atoms: atoms, permutation: permutation)
            if next.permutation == best.permutation || !(next.squaredDistance < best.squaredDistance) {
                if next.squaredDistance < best.squaredDistance { best = next }
                break
            }
            best = next
        }
        return best
    }

    /// Every combination of group permutations; the cross-covariance is the fixed atoms' part plus
    /// one precomputed part per group and permutation, so each combination costs one 4×4 eigenproblem.
    public static func exhaustive(_ moving: UnsafePointer<Double>, onto target: UnsafePointer<Double>, groups: InterchangeableAtoms) -> Superposition {
        let atoms = groups.atomCount
        var grouped = [Bool](repeating: false, count: atoms)
        for group in groups.groups { for atom in group { grouped[atom] = true } }
        var fixed = [Double](repeating: 0, count: 9)
        var norms = 0.0
        for k in 0..<atoms {
            let a = moving + 3 * k, b = target + 3 * k
            for i in 0..<3 { norms += a[i] * a[i] + b[i] * b[i] }
            guard !grouped[k] else { continue }
            for i in 0..<3 { for j in 0..<3 { fixed[3 * i + j] += a[i] * b[j] } }
        }
        // parts[g][p]: Σ_{k∈G} a_{G[p(k)]} b_kᵀ for every permutation p of group g.
        let permutationsOfGroup = groups.groups.map { SmallAssignment.permutations(of: $0.count) }
        var parts: [[[Double]]] = []
        for (g, group) in groups.groups.enumerated() {
            parts.append(permutationsOfGroup[g].map { p in
                var m = [Double](repeating: 0, count: 9)
                for (position, k) in group.enumerated() {
                    let a = moving + 3 * group[p[position]], b = target + 3 * k
                    for i in 0..<3 { for j in 0..<3 { m[3 * i + j] += a[i] * b[j] } }
                }
                return m
            })
        }
        var choice = [Int](repeating: 0, count: groups.groups.count)
        var bestChoice = choice, bestLambda = -Double.infinity
        while true {
            var m = fixed
            for g in 0..<choice.count { for e in 0..<9 { m[e] += parts[g][choice[g]][e] } }
            // λ alone by Newton (the eigenvector only for the winner, below).
            let lambda = largestRoot(m, norms: norms) ?? hornMaximum(m).0
            if lambda > bestLambda {
                bestLambda = lambda
                bestChoice = choice
            }
            // Next combination (odometer).
            var g = 0
            while g < choice.count {
                choice[g] += 1
                if choice[g] < parts[g].count { break }
                choice[g] = 0
                g += 1
            }
            if g == choice.count { break }
        }
        var permutation = Array(0..<atoms)
        for (g, group) in groups.groups.enumerated() {
            let p = permutationsOfGroup[g][bestChoice[g]]
            for (position, k) in group.enumerated() { permutation[k] = group[p[position]] }
        }
        return kabsch(moving, onto: target, atoms: atoms, permutation: permutation)
    }

    /// Horn's K(M) and its largest eigenpair (λ, unit quaternion (w, x, y, z)).
    static func hornMaximum(_ m: [Double]) -> (Double, [Double]) {
        var k = hornMatrix(m)
        var vectors: [Double] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        SymmetricEigen.jacobi4(&k, vectors: &vectors)
        var best = 0
        for i in 1..<4 where k[5 * i] > k[5 * best] { best = i }
        // Column `best` of the eigenvector matrix.
        var q = [vectors[best], vectors[4 + best], vectors[8 + best], vectors[12 + best]]
        let norm = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).squareRoot()
        q = q.map { $0 / norm }
        return (k[5 * best], q)
    }

    /// Horn's symmetric 4×4 K(M) (row-major) of the cross-covariance M = Σₖ aₖ bₖᵀ (3×3, row-major).
    static func hornMatrix(_ m: [Double]) -> [Double] {
        let (sxx, sxy, sxz, syx, syy, syz, szx, szy, szz) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        return [
            sxx + syy + szz, syz - szy, szx - sxz, sxy - syx,
            syz - szy, sxx - syy - szz, sxy + syx, szx + sxz,
            szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy,
            sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz,
        ]
    }

    /// The rotation matrix of a unit quaternion (w, x, y, z), row-major.
    public static func rotationMatrix(_ q: [Double]) -> [Double] {
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        return [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ]
    }
}

/// Eigen-decomposition of small symmetric matrices by cyclic Jacobi rotations.
enum SymmetricEigen {
    /// Diagonalises the symmetric 4×4 `a` (row-major) in place: afterwards a's diagonal holds the
    /// eigenvalues and the columns of `vectors` (which must start as the identity) the eigenvectors.
    static func jacobi4(_ a: inout [Double], vectors v: inout [Double]) {
        let n = 4
        for _ in 0..<50 {
            var off = 0.0, scale = 0.0
            for i in 0..<n { for j in 0..<n { if i != j { off += a[i * n + j] * a[i * n + j] } else { scale += a[i * n + j] * a[i * n + j] } } }
            if off <= 1e-30 * max(scale, 1e-300) { return }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
    }
}
