// Where tbg free-energy's stratum-restricted chains start (BasinChains.chainStarts): among the
// usable proposals of their stratum, spread evenly or ∝ w; in a stratum without a usable proposal,
// among the fallback draws of the flow restricted to it (the restricted draws of --position-draws),
// indexed after the pool; an error naming the stratum when it has neither.
import Evaluation
import MonteCarlo
import Sampling
import XCTest

final class BasinChainStartsTests: XCTestCase {
    /// Three strata: αL (0), the rest (1), the positive basin outside ψ ∈ (−1, 1.4) (2).
    private func settings(chains: Int = 4, starts: ChainStarts = .spread) -> BasinChainSettings {
        var s = BasinChainSettings()
        s.chainsPerBasin = chains
        s.strata = RamachandranStrata(positivePsiSplit: PhiBasin(lower: -1.0, upper: 1.4))
        s.starts = starts
        s.moves.seed = 11
        return s
    }

    func testEveryStratumWithProposalsStartsFromThemAndTheFallbackIsLeftAlone() throws {
        let poolStrata = [1, 1, 0, 0, 1, 2], poolLogWeights = [-1.0, -2, -3, -4, -5, -6]
        let plain = try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, settings: settings())
        let withFallback = try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, fallbackStrata: [2, 0, 1],
                                                       fallbackLogWeights: [0, 0, 0], settings: settings())
        XCTAssertEqual(plain, withFallback, "a stratum with a usable proposal never starts from a fallback draw")
        XCTAssertEqual(plain.count, 12)
        // Spread: 4 chains over 2 proposals take each twice; over 3, each at least once; over 1, it 4 times.
        XCTAssertEqual(plain[0..<4].sorted(), [2, 2, 3, 3])
        XCTAssertEqual(Set(plain[4..<8]), [0, 1, 4])
        XCTAssertEqual(Array(plain[8..<12]), [5, 5, 5, 5])
    }

    func testAStratumWithoutAUsableProposalStartsFromItsFallbackDraws() throws {
        // Stratum 2's one proposal is not usable (log w = −∞: invalid, or above the energy cut-off).
        let poolStrata = [1, 1, 0, 0, 1, 2], poolLogWeights: [Double] = [-1, -2, -3, -4, -5, -.infinity]
        let fallbackStrata = [0, 2, 1, 2, 2], fallbackLogWeights: [Double] = [0, -1, 0, -.infinity, -2]
        for mode in ChainStarts.allCases {
            let starts = try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, fallbackStrata: fallbackStrata,
                                                     fallbackLogWeights: fallbackLogWeights, settings: settings(starts: mode))
            XCTAssertEqual(starts.count, 12)
            XCTAssertTrue(starts[0..<8].allSatisfy { $0 < 6 }, "strata 0 and 1 start from proposals: \(starts)")
            // Fallback draw j is start 6 + j: only the usable ones of stratum 2 (draws 1 and 4).
            XCTAssertTrue(starts[8..<12].allSatisfy { [7, 10].contains($0) }, "\(mode): \(starts)")
            if mode == .spread { XCTAssertEqual(starts[8..<12].sorted(), [7, 7, 10, 10]) }
        }
        // Proposals with weights: stratum 0's picks under ∝ w are systematic resampling of e^{−3}, e^{−4}.
        let weighted = try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, fallbackStrata: fallbackStrata,
                                                   fallbackLogWeights: fallbackLogWeights, settings: settings(chains: 64, starts: .weighted))
        let share = Double(weighted[0..<64].filter { $0 == 2 }.count) / 64
        XCTAssertEqual(share, 1 / (1 + exp(-1.0)), accuracy: 1.0 / 64)
    }

    func testAStratumWithNeitherIsAnErrorThatNamesIt() {
        let poolStrata = [1, 0, 2], poolLogWeights: [Double] = [-1, -2, -.infinity]
        XCTAssertThrowsError(try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, settings: settings())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("no usable proposal with \(settings().strata.describe(2))"), text)
            XCTAssertTrue(text.contains("--restricted-draws"), text)
            XCTAssertFalse(text.contains("nor a usable restricted draw"), text)
        }
        XCTAssertThrowsError(try BasinChains.chainStarts(poolStrata: poolStrata, poolLogWeights: poolLogWeights, fallbackStrata: [0, 2],
                                                         fallbackLogWeights: [0, -.infinity], settings: settings())) { error in
            XCTAssertTrue("\(error)".contains("nor a usable restricted draw there"), "\(error)")
        }
    }
}
