// The strata of tbg free-energy (BasinChains.swift): which stratum a (φ, ψ) falls in, which strata
// make up the positive φ basin, and their names, with and without the ψ splits of either basin.
import Evaluation
import Sampling
import XCTest

final class RamachandranStrataTests: XCTestCase {
    // Alanine dipeptide's regions: (φ, ψ) in radians.
    let alphaL = (phi: 1.0, psi: 0.6), c7ax = (phi: 1.2, psi: -1.3), positivePsiPi = (phi: 1.0, psi: 3.0)
    let alphaR = (phi: -1.4, psi: -0.7), beta = (phi: -1.4, psi: 2.6)

    func testWithoutSplitsTheBasinsAreTheStrata() {
        let strata = RamachandranStrata()
        XCTAssertEqual(strata.count, 2)
        XCTAssertEqual([alphaL, c7ax, positivePsiPi, alphaR, beta].map { strata.stratum(phi: $0.phi, psi: $0.psi) }, [0, 0, 0, 1, 1])
        XCTAssertEqual((0..<2).map(strata.isPositive), [true, false])
        XCTAssertEqual(strata.describe(0), PhiBasin.standard.description)
    }

    func testTheOtherBasinSplitByPsi() {
        let strata = RamachandranStrata(psiSplit: PhiBasin(lower: -2.1, upper: 1.4))
        XCTAssertEqual(strata.count, 3)
        XCTAssertEqual([alphaL, c7ax, alphaR, beta].map { strata.stratum(phi: $0.phi, psi: $0.psi) }, [0, 0, 1, 2])
        XCTAssertEqual((0..<3).map(strata.isPositive), [true, false, false])
        XCTAssertTrue(strata.describe(2).hasSuffix("psi outside (-2.1, 1.4)"), strata.describe(2))
    }

    func testBothBasinsSplitByPsi() {
        let strata = RamachandranStrata(psiSplit: PhiBasin(lower: -2.1, upper: 1.4), positivePsiSplit: PhiBasin(lower: -1.0, upper: 1.4))
        XCTAssertEqual(strata.count, 4)
        // αL inside the positive basin's split; C7ax and ψ ≈ π outside it: the last stratum.
        XCTAssertEqual([alphaL, c7ax, positivePsiPi, alphaR, beta].map { strata.stratum(phi: $0.phi, psi: $0.psi) }, [0, 3, 3, 1, 2])
        XCTAssertEqual((0..<4).map(strata.isPositive), [true, false, false, true])
        XCTAssertEqual(strata.describe(0), PhiBasin.standard.description + ", psi in (-1, 1.4)")
        XCTAssertEqual(strata.describe(3), PhiBasin.standard.description + ", psi outside (-1, 1.4)")
        // The positive basin split alone.
        let positiveOnly = RamachandranStrata(positivePsiSplit: PhiBasin(lower: -1.0, upper: 1.4))
        XCTAssertEqual(positiveOnly.count, 3)
        XCTAssertEqual([alphaL, c7ax, alphaR, beta].map { positiveOnly.stratum(phi: $0.phi, psi: $0.psi) }, [0, 2, 1, 1])
        XCTAssertEqual((0..<3).map(positiveOnly.isPositive), [true, false, true])
    }
}
