// Exact linear assignment: the permutation σ minimising Σᵢ c[i][σ(i)] over an n×n integer cost
// matrix, by the Jonker–Volgenant algorithm (R. Jonker, A. Volgenant, "A shortest augmenting path
// algorithm for dense and sparse linear assignment problems", Computing 38, 1987; port of the
// structure of their published `lapjv`):
//   1. column reduction: v_j = min_i c_ij, each column's minimum row takes it if still free;
//   2. reduction transfer from rows assigned once;
//   3. augmenting row reduction (two passes, an auction-like step with ε = 0);
//   4. for every row still free, a Dijkstra shortest augmenting path in reduced costs
//      c_ij − v_j, stopping at the first free column, then a price update along the tree.
// Invariant (LP duality): with u_i = c[i][σ(i)] − v[σ(i)], every reduced cost c_ij − u_i − v_j ≥ 0,
// so the assignment is optimal. `isOptimal` checks exactly this certificate in O(n²).
//
// Integer costs make every comparison exact (no ε, no cycling from rounding); costs are stored
// as Int32 (n = 10 000 takes 400 MB) and all sums are formed in Int64.

public struct AssignmentSolution: Sendable, Equatable {
    /// σ: the column assigned to each row.
    public var columnOfRow: [Int]
    /// Σᵢ c[i][σ(i)].
    public var totalCost: Int64
    /// Column prices v (the dual variables that certify optimality).
    public var columnPrices: [Int64]
}

public enum LinearAssignment {
    /// Solves the n×n problem with row-major `costs` (|c| < 2³⁰).
    public static func solve(costs: [Int32], size n: Int) -> AssignmentSolution {
        precondition(n >= 0 && costs.count == n * n, "costs must hold n×n entries")
        if n == 0 { return AssignmentSolution(columnOfRow: [], totalCost: 0, columnPrices: []) }
        if n == 1 { return AssignmentSolution(columnOfRow: [0], totalCost: Int64(costs[0]), columnPrices: [Int64(costs[0])]) }
        var rowSolution = [Int](repeating: -1, count: n), columnSolution = [Int](repeating: -1, count: n)
        var prices = [Int64](repeating: 0, count: n)
        costs.withUnsafeBufferPointer { c in
            rowSolution.withUnsafeMutableBufferPointer { x in
                columnSolution.withUnsafeMutableBufferPointer { y in
                    prices.withUnsafeMutableBufferPointer { v in
                        var free = reduce(c, n, x, y, v)
                        free = augmentingRowReduction(c, n, x, y, v, free: free)
                        free = augmentingRowReduction(c, n, x, y, v, free: free)
                        augment(c, n, x, y, v, free: free)
                    }
                }
            }
        }
        let total = (0..<n).reduce(Int64(0)) { $0 + Int64(costs[$1 * n + rowSolution[$1]]) }
        return AssignmentSolution(columnOfRow: rowSolution, totalCost: total, columnPrices: prices)
    }

    /// Whether `solution` is a permutation whose prices certify it optimal (every reduced cost
    /// c_ij − u_i − v_j ≥ 0 with u_i = c[i][σ(i)] − v[σ(i)]).
    public static func isOptimal(_ solution: AssignmentSolution, costs: [Int32], size n: Int) -> Bool {
        guard solution.columnOfRow.count == n, solution.columnPrices.count == n,
              Set(solution.columnOfRow).count == n, solution.columnOfRow.allSatisfy({ (0..<n).contains($0) }) else { return false }
        let v = solution.columnPrices
        for i in 0..<n {
            let u = Int64(costs[i * n + solution.columnOfRow[i]]) - v[solution.columnOfRow[i]]
            for j in 0..<n where Int64(costs[i * n + j]) - u - v[j] < 0 { return false }
        }
        return true
    }

    private typealias Costs = UnsafeBufferPointer<Int32>
    private typealias Indices = UnsafeMutableBufferPointer<Int>
    private typealias Prices = UnsafeMutableBufferPointer<Int64>
    private static let big = Int64.max / 4

    /// Steps 1–2; returns the rows left free.
    private static func reduce(_ c: Costs, _ n: Int, _ x: Indices, _ y: Indices, _ v: Prices) -> [Int] {
        // Column minima, scanning rows in order (the first minimal row of each column wins, as in
        // lapjv's column scan), read row by row for the cache.
        var minimumRow = [Int](repeating: 0, count: n)
        for j in 0..<n { v[j] = Int64(c[j]) }
        for i in 1..<n {
            let row = i * n
            for j in 0..<n where Int64(c[row + j]) < v[j] {
                v[j] = Int64(c[row + j])
                minimumRow[j] = i
            }
        }
        var matches = [Int](repeating: 0, count: n)
        for j in (0..<n).reversed() {   // reverse order, as lapjv: gives better starts
            let i = minimumRow[j]
            matches[i] += 1
            if matches[i] == 1 {
                x[i] = j
                y[j] = i
            } else if v[j] < v[x[i]] {
                y[x[i]] = -1
                x[i] = j
                y[j] = i
            } else {
                y[j] = -1
            }
        }
        var free: [Int] = []
        for i in 0..<n {
            if matches[i] == 0 {
                free.append(i)
            } else if matches[i] == 1 {
                // Reduction transfer: lower the price of i's column by i's best alternative.
                let j1 = x[i], row = i * n
                var minimum = big
                for j in 0..<n where j != j1 { minimum = min(minimum, Int64(c[row + j]) - v[j]) }
                v[j1] -= minimum
            }
        }
        return free
    }

    /// Step 3 (one pass); returns the rows still free.
    private static func augmentingRowReduction(_ c: Costs, _ n: Int, _ x: Indices, _ y: Indices, _ v: Prices, free: [Int]) -> [Int] {
        var queue = free
        var stillFree: [Int] = []
        var k = 0
        while k < queue.count {
            let i = queue[k]
            k += 1
            // The smallest and second-smallest reduced cost of row i.
            let row = i * n
            var best = Int64(c[row]) - v[0], second = big
            var j1 = 0, j2 = 0
            for j in 1..<n {
                let h = Int64(c[row + j]) - v[j]
                if h < second {
                    if h >= best {
                        second = h
                        j2 = j
                    } else {
                        second = best
                        best = h
                        j2 = j1
                        j1 = j
                    }
                }
            }
            var i0 = y[j1]
            if best < second {
                v[j1] -= second - best   // raise row i's best reduced cost to its second best
            } else if i0 >= 0 {
                j1 = j2                  // a tie: take the other column, which may be free
                i0 = y[j2]
            }
            x[i] = j1
            y[j1] = i
            if i0 >= 0 {
                x[i0] = -1
                if best < second {
                    k -= 1               // continue the augmenting path with the evicted row
                    queue[k] = i0
                } else {
                    stillFree.append(i0)
                }
            }
        }
        return stillFree
    }

    /// Step 4: a shortest augmenting path from every free row.
    private static func augment(_ c: Costs, _ n: Int, _ x: Indices, _ y: Indices, _ v: Prices, free: [Int]) {
        var distance = [Int64](repeating: 0, count: n)
        var predecessor = [Int](repeating: 0, count: n)
        var columns = [Int](repeating: 0, count: n)
        distance.withUnsafeMutableBufferPointer { d in
            predecessor.withUnsafeMutableBufferPointer { pred in
                columns.withUnsafeMutableBufferPointer { list in
                    for freeRow in free {
                        shortestPath(from: freeRow, c, n, x, y, v, d, pred, list)
                    }
                }
            }
        }
    }

    private static func shortestPath(from freeRow: Int, _ c: Costs, _ n: Int, _ x: Indices, _ y: Indices, _ v: Prices,
                                     _ d: Prices, _ pred: Indices, _ list: Indices) {
        let freeBase = freeRow * n
        for j in 0..<n {
            d[j] = Int64(c[freeBase + j]) - v[j]
            pred[j] = freeRow
            list[j] = j
        }
        // list[0..<low]: done (distance final, below the current minimum); list[low..<up]: at the
        // current minimum, to scan; list[up..<n]: not yet reached at the minimum.
        var low = 0, up = 0, last = 0
        var minimum: Int64 = 0
        var end = -1
        while end < 0 {
            if up == low {
                last = low - 1
                minimum = d[list[up]]
                up += 1
                for k in up..<n {
                    let j = list[k], h = d[j]
                    if h <= minimum {
                        if h < minimum {
                            up = low
                            minimum = h
                        }
                        list[k] = list[up]
                        list[up] = j
                        up += 1
                    }
                }
                for k in low..<up where y[list[k]] < 0 {
                    end = list[k]
                    break
                }
            }
            if end >= 0 { break }
            // Scan the next column at the minimum: relax the columns not yet at the minimum
            // through the row assigned to it.
            let j1 = list[low]
            low += 1
            let i = y[j1], base = i * n
            let h = Int64(c[base + j1]) - v[j1] - minimum
            var k = up
            while k < n {
                let j = list[k]
                let candidate = Int64(c[base + j]) - v[j] - h
                if candidate < d[j] {
                    pred[j] = i
                    if candidate == minimum {
                        if y[j] < 0 {
                            end = j
                            break
                        }
                        list[k] = list[up]
                        list[up] = j
                        up += 1
                    }
                    d[j] = candidate
                }
                k += 1
            }
        }
        // Prices of the finished columns, then flip the assignments along the path.
        if last >= 0 {
            for k in 0...last {
                let j = list[k]
                v[j] += d[j] - minimum
            }
        }
        var j = end
        while true {
            let i = pred[j]
            y[j] = i
            let next = x[i]
            x[i] = j
            if i == freeRow { break }
            j = next
        }
    }
}
