// Every C kernel (CKernels) in every variant this CPU has, against the portable variant, and the
// portable variant against a float64 reference (the same formulas in Swift with libm, which is
// what the Double instantiation of each kernel runs). Row lengths 0 … 65 exercise the partial
// vectors of AVX2 (8 lanes) and AVX-512 (16 lanes).
import Kernels
import Linalg
import XCTest

final class KernelVariantTests: XCTestCase {
    static let lengths = [0, 1, 7, 8, 15, 16, 17, 63, 64, 65]

    /// `run(n, Float)` under each supported variant against portable (within `variantTolerance`
    /// relative to max(1, |portable|)), and portable against `run(n, Double)` (`referenceTolerance`).
    private func check(_ name: String, variantTolerance: Double = 2e-6, referenceTolerance: Double = 4e-6,
                       float: (Int) -> [Double], double: (Int) -> [Double], file: StaticString = #filePath, line: UInt = #line) {
        let saved = KernelVariant.active
        defer { KernelVariant.select(saved) }
        for n in Self.lengths {
            XCTAssertTrue(KernelVariant.select(.portable))
            let portable = float(n), reference = double(n)
            compare(portable, reference, tolerance: referenceTolerance, "\(name) n=\(n): portable vs float64", file: file, line: line)
            for variant in KernelVariant.supported where variant != .portable {
                XCTAssertTrue(KernelVariant.select(variant))
                compare(float(n), portable, tolerance: variantTolerance, "\(name) n=\(n): \(variant) vs portable", file: file, line: line)
            }
        }
    }

    private func compare(_ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String, file: StaticString, line: UInt) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        var worst = (index: -1, error: 0.0)
        for (index, (a, e)) in zip(actual, expected).enumerated() {
            let error = abs(a - e) / max(1, abs(e))
            if !(error <= worst.error) { worst = (index, error) }
        }
        if worst.index >= 0 && !(worst.error <= tolerance) {
            XCTFail("\(what): element \(worst.index) \(actual[worst.index]) vs \(expected[worst.index]) (error \(worst.error) > \(tolerance))",
                    file: file, line: line)
        }
    }

    /// Deterministic inputs in [low, high], the same values in Float and Double.
    private func values<T: BinaryFloatingPoint>(_ count: Int, seed: UInt64, _ low: Double = -3, _ high: Double = 3) -> [T] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in T(Float(random.uniform(low, high))) }
    }

    func testEveryVariantIsCovered() throws {
        let missing = KernelVariant.allCases.filter { !$0.isSupported }
        XCTAssertTrue(KernelVariant.supported.contains(.portable))
        if !missing.isEmpty {
            throw XCTSkip("this CPU lacks \(missing.map(\.description).joined(separator: ", ")): those variants are not tested here")
        }
    }

    func testActiveVariantIsTheBestUnlessForced() {
        guard KernelVariant.environmentProblem == nil, ProcessInfo.processInfo.environment["TBG_KERNELS"] == nil else { return }
        let saved = KernelVariant.active
        defer { KernelVariant.select(saved) }
        XCTAssertEqual(saved, KernelVariant.supported.last)
        XCTAssertTrue(KernelVariant.select(.portable))
        XCTAssertEqual(KernelVariant.active, .portable)
    }

    func testFamiliesFollowTheRuleAndSwitchAlone() {
        let saved = KernelFamily.allCases.map { KernelVariant.active(for: $0) }
        defer { for (family, variant) in zip(KernelFamily.allCases, saved) { KernelVariant.select(variant, for: family) } }
        let environment = ProcessInfo.processInfo.environment
        for family in KernelFamily.allCases {
            XCTAssertTrue(KernelVariant.defaultVariant(for: family).isSupported, "\(family)")
            let forced = environment["TBG_KERNELS"] != nil || environment["TBG_KERNELS_\(family.description.uppercased())"] != nil
            if !forced { XCTAssertEqual(KernelVariant.active(for: family), KernelVariant.defaultVariant(for: family), "\(family)") }
        }
        // Selecting for one family leaves the other.
        let tangent = KernelVariant.supported.last ?? .portable
        XCTAssertTrue(KernelVariant.select(tangent, for: .tangent))
        XCTAssertTrue(KernelVariant.select(.portable, for: .layer))
        XCTAssertEqual(KernelVariant.active(for: .layer), .portable)
        XCTAssertEqual(KernelVariant.active(for: .tangent), tangent)
        XCTAssertEqual(KernelVariant.active, .portable, "KernelVariant.active is the layer family's")
        // Selecting for all moves every family.
        XCTAssertTrue(KernelVariant.select(.portable))
        XCTAssertEqual(KernelFamily.allCases.map { KernelVariant.active(for: $0) }, [.portable, .portable])
    }

    // MARK: elementwise

    private func elementwise<T: ActivationScalar>(_ n: Int, _: T.Type) -> [Double] {
        let z: [T] = values(n, seed: 1, -12, 12) + [-100, 100].map { T($0) }
        let sigmaIn: [T] = values(n + 2, seed: 2, 0, 1), dy: [T] = values(n + 2, seed: 3)
        let count = n + 2
        var sigma = [T](repeating: 0, count: count), sigma2 = sigma, y = sigma, product = sigma, slope = sigma, dz = sigma
        Activation.sigmoid(z, &sigma, count: count)
        Activation.sigmoidSilu(sigma: &sigma2, y: &y, z: z, count: count)
        Activation.multiply(&product, z, dy, count: count)
        Activation.siluSlope(&slope, z: z, sigma: sigmaIn, count: count)
        Activation.siluBackward(&dz, dy, z: z, sigma: sigmaIn, count: count)
        return [sigma, sigma2, y, product, slope, dz].flatMap { $0.map(Double.init) }
    }

    func testElementwise() {
        check("elementwise", float: { self.elementwise($0, Float.self) }, double: { self.elementwise($0, Double.self) })
    }

    // MARK: the layer's edge passes (3 atoms, all 6 directed edges, rows of n)

    private static let receivers: [Int32] = [0, 0, 1, 1, 2, 2], senders: [Int32] = [1, 2, 0, 2, 0, 1]

    private func edgeForward<T: ActivationScalar>(_ h: Int, _: T.Type) -> [Double] {
        let e = 6
        let p: [T] = values(3 * h, seed: 4), q: [T] = values(3 * h, seed: 5), radial: [T] = values(e, seed: 6, 0, 4)
        let d2: [T] = values(e, seed: 7, 0, 4), wr: [T] = values(h, seed: 8), wd: [T] = values(h, seed: 9), bias: [T] = values(h, seed: 10)
        let z2: [T] = values(e * h, seed: 11), zc: [T] = values(e * h, seed: 12), wa: [T] = values(h, seed: 13, -0.3, 0.3)
        var z = [T](repeating: 0, count: e * h), sigma = z, act = z, sigma2 = z, m = z, sigmaC = z, m0 = z, mAgain = z
        var gate = [T](repeating: 0, count: e), logit = gate
        EdgeLayerKernels.edgeInput(z: &z, sigma: &sigma, act: &act, p: p, q: q, receivers: Self.receivers, senders: Self.senders,
                                   radial: radial, d2: d2, wr: wr, wd: wd, bias: bias, edges: e, hidden: h)
        EdgeLayerKernels.message(sigma: &sigma2, gate: &gate, m: &m, z: z2, wa: wa, ba: T(0.2), edges: e, hidden: h)
        EdgeLayerKernels.coordLogit(sigma: &sigmaC, logit: &logit, z: zc, wc: wa, edges: e, hidden: h)
        EdgeLayerKernels.gatedSilu(m0: &m0, m: &mAgain, z: z2, sigma: sigma2, gate: gate, edges: e, hidden: h)
        return [z, sigma, act, sigma2, gate, m, sigmaC, logit, m0, mAgain].flatMap { $0.map(Double.init) }
    }

    func testEdgeForwardPasses() {
        check("edge forward", variantTolerance: 4e-6, referenceTolerance: 1e-5,
              float: { self.edgeForward($0, Float.self) }, double: { self.edgeForward($0, Double.self) })
    }

    private func edgeBackward<T: ActivationScalar>(_ h: Int, _: T.Type) -> [Double] {
        let e = 6
        let z: [T] = values(e * h, seed: 14), sigma: [T] = values(e * h, seed: 15, 0, 1), wc: [T] = values(h, seed: 16)
        let dlogit: [T] = values(e, seed: 17), dm: [T] = values(e * h, seed: 18), m0: [T] = values(e * h, seed: 19)
        let gate: [T] = values(e, seed: 20, 0, 1), radial: [T] = values(e, seed: 21, 0, 4), d2: [T] = values(e, seed: 22, 0, 4)
        var dzc = [T](repeating: 0, count: e * h), dz2 = dzc, dq: [T] = values(3 * h, seed: 23)
        var dwc: [T] = values(h, seed: 24), dwa: [T] = values(h, seed: 25), db: [T] = values(h, seed: 26)
        var dwr: [T] = values(h, seed: 27), dwd: [T] = values(h, seed: 28)
        var dr = [T](repeating: 0, count: e), dd2: [T] = values(e, seed: 29), dba = T(0.5)
        EdgeLayerKernels.coordBackward(dz: &dzc, dwc: &dwc, dlogit: dlogit, z: z, sigma: sigma, wc: wc, edges: e, hidden: h)
        EdgeLayerKernels.gateBackward(dz: &dz2, dwa: &dwa, dba: &dba, dm: dm, m0: m0, z: z, sigma: sigma, gate: gate, wa: wc,
                                      edges: e, hidden: h)
        // Inputs of its own (not the outputs above), so that the tolerance measures this kernel's rounding.
        let dz1: [T] = values(e * h, seed: 39), wd: [T] = values(h, seed: 40)
        EdgeLayerKernels.edgeInputBackward(dq: &dq, db: &db, dwr: &dwr, dwd: &dwd, dr: &dr, dd2: &dd2, dz: dz1, senders: Self.senders,
                                           radial: radial, d2: d2, wr: wc, wd: wd, edges: e, hidden: h)
        return [dzc, dwc, dz2, dwa, [dba], dq, db, dwr, dwd, dr, dd2].flatMap { $0.map(Double.init) }
    }

    func testEdgeBackwardPasses() {
        check("edge backward", variantTolerance: 1e-5, referenceTolerance: 2e-5,
              float: { self.edgeBackward($0, Float.self) }, double: { self.edgeBackward($0, Double.self) })
    }

    // MARK: the divergence's tangent rows

    private func tangentRows<T: ActivationScalar>(_ n: Int, _: T.Type) -> [Double] {
        let p: [T] = values(n, seed: 30), q: [T] = values(n, seed: 31), u: [T] = values(n, seed: 32), v: [T] = values(n, seed: 33)
        let slope: [T] = values(n, seed: 34), k1: [T] = values(n, seed: 35), k2: [T] = values(n, seed: 36), m: [T] = values(n, seed: 37)
        var row = [T](repeating: 0, count: n), rowWithoutPQ = row, target: [T] = values(n, seed: 38)
        let (a, b) = Activation.tangentRow(&row, p: p, q: q, a: T(0.7), u: u, b: T(-1.3), v: v, slope: slope, k1: k1, k2: k2, count: n)
        let (c, d) = Activation.tangentRow(&rowWithoutPQ, p: nil, q: nil, a: T(0.7), u: u, b: T(-1.3), v: v, slope: slope, k1: k1, k2: k2,
                                           count: n)
        Activation.accumulateMessageTangent(&target, g: T(0.4), slope: slope, row: row, c: T(-0.9), m: m, count: n)
        return [row, rowWithoutPQ, [a, b, c, d], target].flatMap { $0.map(Double.init) }
    }

    /// The divergence's row products (TangentLinear, CKernels/LinearProductBody.h) in every variant
    /// this CPU has, against OpenBLAS (Linear.forward, what the portable variant and Double run) and
    /// float64: rows 0 … 13 (full tiles of 6 and the rows after them), depth 5, 64 and 128, widths 64
    /// and 128, with and without accumulation, W read with a row stride (a block of W₁ or W₃). A width
    /// that is not a multiple of the tile keeps OpenBLAS, bit for bit.
    func testTangentLinearAgainstOpenBLAS() {
        let saved = KernelVariant.active
        defer { KernelVariant.select(saved) }
        func run<T: BLASScalar & BinaryFloatingPoint>(_: T.Type, rows: Int, k: Int, n: Int, accumulate: Bool, blas: Bool) -> [Double] {
            let ldw = 2 * k + 3
            let x: [T] = values(rows * k, seed: 81), weight: [T] = values(n * ldw, seed: 82, -0.5, 0.5)
            var y: [T] = values(rows * n, seed: 83)
            var packed = [T](repeating: 0, count: TangentLinear.packedCount(inFeatures: k, outFeatures: n))
            x.withUnsafeBufferPointer { xs in weight.withUnsafeBufferPointer { w in y.withUnsafeMutableBufferPointer { ys in
                let block = UnsafeBufferPointer(rebasing: w[(k + 1)...])
                if blas {
                    Linear.forward(ys, xs, weight: block, ldw: ldw, bias: nil, rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate)
                } else {
                    TangentLinear.forward(ys, xs, weight: block, ldw: ldw, rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate,
                                          packed: &packed)
                }
            } } }
            return y.map(Double.init)
        }
        var kernelRuns = 0
        for variant in KernelVariant.supported {
            XCTAssertTrue(KernelVariant.select(variant))
            for n in [64, 128] {
                kernelRuns += TangentLinear.usesKernel(outFeatures: n) ? 1 : 0
                for k in [5, 64, 128] {
                    for rows in [0, 1, 5, 6, 7, 12, 13] {
                        for accumulate in [false, true] {
                            let what = "\(variant) rows \(rows) k \(k) n \(n) accumulate \(accumulate)"
                            let float = run(Float.self, rows: rows, k: k, n: n, accumulate: accumulate, blas: false)
                            // Float sums of k products in another order: rounding grows with the depth.
                            let tolerance = 3e-7 * Double(max(k, 8))
                            compare(float, run(Float.self, rows: rows, k: k, n: n, accumulate: accumulate, blas: true), tolerance: tolerance,
                                    what + ": kernel vs OpenBLAS", file: #filePath, line: #line)
                            compare(float, run(Double.self, rows: rows, k: k, n: n, accumulate: accumulate, blas: true), tolerance: tolerance,
                                    what + ": kernel vs float64", file: #filePath, line: #line)
                        }
                    }
                }
            }
        }
        if KernelVariant.supported.contains(where: { $0 != .portable }) {
            XCTAssertGreaterThan(kernelRuns, 0, "the C kernel ran where the CPU has AVX2 or AVX-512")
        } else {
            print("testTangentLinearAgainstOpenBLAS: this CPU has no AVX2/AVX-512 variant; only the OpenBLAS path was checked")
        }
        // A width that is not a multiple of any tile: OpenBLAS, bit for bit.
        XCTAssertFalse(TangentLinear.usesKernel(outFeatures: 20))
        XCTAssertEqual(run(Float.self, rows: 7, k: 9, n: 20, accumulate: true, blas: false),
                       run(Float.self, rows: 7, k: 9, n: 20, accumulate: true, blas: true))
    }

    func testTangentRows() {
        check("tangent rows", variantTolerance: 1e-5, referenceTolerance: 2e-5,
              float: { self.tangentRows($0, Float.self) }, double: { self.tangentRows($0, Double.self) })
    }
}

extension KernelVariantTests {
    // MARK: one divergence layer over (tangent, edge) pairs

    /// Two molecules of 3 atoms (6 edges each), 2 tangents, hidden width n: the pairs in an order
    /// where runs of pairs share a receiver row and tiles straddle molecules, through the layer with
    /// Ṗ, Q̇ and W₂ (a middle layer), without Ṗ, Q̇ (layer 0) and without W₂ (the last layer).
    fileprivate func tangentPairs<T: ActivationScalar>(_ n: Int, _: T.Type) -> [Double] {
        let atoms = 6, edges = 12, tangents = 2
        let receivers = Buffer<Int32>([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]), senders = Buffer<Int32>([1, 2, 0, 2, 0, 1, 4, 5, 3, 5, 3, 4])
        // Every pair but the last: 23 pairs end in a partial tile (6 rows in AVX2/AVX-512, 4 portable).
        var order: [(Int32, Int32)] = []
        for e in 0..<edges { for tau in 0..<tangents { order.append((Int32(tau), Int32(e))) } }
        order.removeLast()
        let pairTangent = Buffer(order.map(\.0)), pairEdge = Buffer(order.map(\.1))
        // Inputs at stable addresses (the layer holds pointers), the same values in Float and Double.
        func input(_ count: Int, _ seed: UInt64, _ low: Double = -3, _ high: Double = 3) -> Buffer<T> {
            Buffer(values(count, seed: seed, low, high) as [T])
        }
        let xDot = input(tangents * atoms * 3, 50), pDot = input(tangents * atoms * n, 51), qDot = input(tangents * atoms * n, 52)
        let d2Dot = input(tangents * edges, 53), delta = input(edges * 3, 54), norm = input(edges, 55, 0.5, 3)
        let inverseNorm = Buffer(norm.array.map { 1 / $0 }), inverseNormPlusOne = Buffer(norm.array.map { 1 / ($0 + 1) })
        let gate = input(edges, 56, 0, 1), coordWeight = input(edges, 57, -1, 1), coordMessageProduct = input(edges, 58)
        let slope1 = input(edges * n, 59, -0.2, 1.2), slope2 = input(edges * n, 60, -0.2, 1.2), message0 = input(edges * n, 61)
        let coordVector = input(edges * n, 62, -0.5, 0.5), gateKernel = input(edges * n, 63, -0.5, 0.5)
        let coordKernel = input(edges * n, 64, -0.5, 0.5), columnR = input(n, 65), columnD = input(n, 66)
        let attention = input(n, 67, -0.5, 0.5), w2 = input(n * n, 68, -0.3, 0.3)
        let packed = Buffer<T>(count: n * TangentPairsKernel.paddedWidth(n)), scratch = Buffer<T>(count: TangentPairsKernel.scratchCount(n))
        TangentPairsKernel.packWeight(packed.pointer, weight: w2.pointer, hidden: n)
        var outputs: [Double] = []
        for (withPQ, withW2) in [(true, true), (false, true), (true, false)] {
            let aggregate = input(tangents * atoms * n, 69), xNext = input(tangents * atoms * 3, 70)
            let layer = TangentLayerInputs<T>(
                xDot: xDot.pointer, pDot: withPQ ? pDot.pointer : nil, qDot: withPQ ? qDot.pointer : nil, d2Dot: d2Dot.pointer,
                receivers: receivers.pointer, senders: senders.pointer, delta: delta.pointer, inverseNorm: inverseNorm.pointer,
                inverseNormPlusOne: inverseNormPlusOne.pointer, gate: gate.pointer, coordWeight: coordWeight.pointer,
                coordMessageProduct: coordMessageProduct.pointer, slope1: slope1.pointer, slope2: slope2.pointer,
                message0: message0.pointer, coordVector: coordVector.pointer, gateKernel: withW2 ? nil : gateKernel.pointer,
                coordKernel: withW2 ? nil : coordKernel.pointer, columnR: columnR.pointer, columnD: columnD.pointer,
                attentionWeight: attention.pointer, w2Packed: withW2 ? packed.pointer : nil, rho: T(0.75), atoms: atoms, edges: edges,
                hidden: n)
            TangentPairsKernel.run(aggregateDot: withW2 ? aggregate.pointer : nil, xNext: xNext.pointer, scratch: scratch.pointer,
                                   layer: layer, pairTangent: pairTangent.pointer, pairEdge: pairEdge.pointer, pairs: pairTangent.count)
            outputs += (aggregate.array + xNext.array).map(Double.init)
        }
        return outputs
    }

    func testTangentPairs() {
        // Each output sums products over H (W₂ȧ₁, then w_a·ṁ₀ and v_c·ṁ₀) with cancellation: float32
        // rounding reaches ~2.5·10⁻⁵ of the result at H = 64 in any summation order; a wrong index or
        // term is off by O(1).
        check("tangent pairs", variantTolerance: 6e-5, referenceTolerance: 1e-4,
              float: { self.tangentPairs($0, Float.self) }, double: { self.tangentPairs($0, Double.self) })
    }
}
