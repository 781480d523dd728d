// `tbg bench allreduce`: the time of the training step's gradient all-reduce against message size,
// for the cluster scaling model (README "Scaling to clusters", Tools/scaling_model.py).
import ArgumentParser
import Communication
import Foundation

struct AllreduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "All-reduce (sum, in place, float32) time against message size, on the ranks of mpirun.",
        discussion: """
            Every size is timed `--repeats` times after a warm-up, each time from a barrier; the \
            time of a repeat is the slowest rank's. Prints the median per size and the least-squares \
            fit t = α + β·bytes (latency α, inverse bandwidth β), or with --json one object with \
            both. Run it on the ranks and nodes the scaling model should describe: within one node \
            it measures shared memory, across nodes the interconnect.
            """)

    @Option(help: "Message sizes in float32 elements, comma-separated (default: 1e3 … 1e7, and the AD2 and 2AA models' gradients).")
    var sizes = "1000,10000,100000,198000,733000,1000000,10000000"
    @Option(help: "Timed repeats per size (median reported).") var repeats = 20
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var distributed: DistributedOptions

    struct Result: Encodable {
        var ranks: Int
        var elements: [Int]
        var medianSeconds: [Double]
        var latencySeconds: Double
        var secondsPerByte: Double

        enum CodingKeys: String, CodingKey {
            case ranks, elements
            case medianSeconds = "median_seconds"
            case latencySeconds = "latency_seconds"
            case secondsPerByte = "seconds_per_byte"
        }
    }

    func validate() throws {
        guard repeats >= 1, !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--sizes must be positive integers separated by commas, --repeats at least 1")
        }
    }

    var counts: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        try distributed.withCommunicator { comm in
            var medians: [Double] = []
            for count in counts {
                var buffer = [Float](repeating: 1, count: count)
                comm.allreduce(&buffer, .sum)   // warm-up: connections and buffers set up
                var times: [Double] = []
                for _ in 0..<repeats {
                    comm.barrier()
                    let start = DispatchTime.now().uptimeNanoseconds
                    comm.allreduce(&buffer, .sum)
                    times.append(comm.allreduce(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, .max))
                }
                medians.append(times.sorted()[times.count / 2])
            }
            guard comm.isRoot else { return }
            let (alpha, beta) = Self.fit(bytes: counts.map { Double(4 * $0) }, seconds: medians)
            let result = Result(ranks: comm.size, elements: counts, medianSeconds: medians, latencySeconds: alpha, secondsPerByte: beta)
            if json {
                print(try JSONOutput.line(result))
                return
            }
            for (count, seconds) in zip(counts, medians) {
                print(String(format: "allreduce: %d rank(s), %9d float32 (%8.3f MB): %10.1f µs median of %d, %7.2f GB/s",
                             comm.size, count, Double(4 * count) / 1e6, seconds * 1e6, repeats, Double(4 * count) / seconds / 1e9))
            }
            print(String(format: "allreduce: fit t = α + β·bytes: α = %.1f µs, 1/β = %.2f GB/s", alpha * 1e6, 1 / beta / 1e9))
        }
    }

    /// Least squares of seconds = α + β·bytes.
    static func fit(bytes: [Double], seconds: [Double]) -> (Double, Double) {
        let n = Double(bytes.count)
        let mx = bytes.reduce(0, +) / n, my = seconds.reduce(0, +) / n
        let sxy = zip(bytes, seconds).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
        let sxx = bytes.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
        let beta = sxx > 0 ? sxy / sxx : 0
        return (max(0, my - beta * mx), beta)
    }
}
