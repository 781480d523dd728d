// Upper (and lower) ends of the sizes users type on the command line, checked in the commands'
// validate(), with one message form: "--option must lie in LOW...HIGH (got VALUE)".
import ArgumentParser
import Sampling

/// Range checks of the sizes users type, before anything is allocated or run: a value past the
/// upper end would exhaust memory (particles, chains: all states are held at once) or run for
/// ever, and is a typing mistake, not a request.
enum SizeLimit {
    /// Samples or proposals one run draws (`--count`, `--proposals`): 10⁹ samples of a 22-atom
    /// peptide are already ~0.3 TB of coordinates, and larger counts overflow the chunk arithmetic.
    static let samples = SampleChunks.maximumCount   // also the limit of a resumed run's run.json
    static let states = 10_000_000          // particles or chains: ≈ 5 GB of states for 22 atoms
    static let steps = 1_000_000_000        // stages, steps, sweeps

    /// - Throws: `ValidationError` naming `option`, its range and the value given.
    static func check(_ option: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must lie in \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
    }
}
