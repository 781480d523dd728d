// TrainingBenchmark.modelFlops, the FLOP count behind `tbg bench train`'s utilisation figure,
// recounted from the model's own parameter layout: every weight matrix W (out × in) applied to R
// rows costs 2R·in·out forward, and as much again for each of ∂input and ∂W in backward.
import Communication
import Foundation
import Model
import Training
import XCTest

final class ModelFlopsTests: XCTestCase {
    func testModelFlopsEqualsTheLayoutsMatrixProducts() {
        for (hidden, layers, featureWidth, atoms, molecules) in [(64, 5, 22, 22, 256), (128, 9, 60, 36, 4), (8, 2, 3, 5, 7)] {
            let config = EGNNConfig(hidden: hidden, layers: layers, featureWidth: featureWidth)
            let layout = ParameterLayout(config)
            let a = Double(molecules * atoms), e = Double(molecules * atoms * (atoms - 1)), h = hidden
            var expected = 0.0
            for entry in layout.entries where entry.shape.count == 2 && entry.shape[0] > 1 {
                let (out, input) = (entry.shape[0], entry.shape[1])
                // "embedding.weight", "gcl_3.edge_mlp.2.weight", …
                let parts = entry.name.split(separator: ".").map(String.init)
                switch parts[0].hasPrefix("gcl_") ? parts[1] : parts[0] {
                case "embedding":                         // its input is data: forward and ∂W only
                    expected += 4 * a * Double(out * input)
                case "edge_mlp" where input == 2 * h + 2: // factorised: P and Q, two H × H products over the atoms
                    expected += 6 * a * Double(out * 2 * h)
                case "edge_mlp", "coord_mlp":             // over the edges
                    expected += 6 * e * Double(out * input)
                case "node_mlp":
                    expected += 6 * a * Double(out * input)
                default:
                    XCTFail("weight matrix \(entry.name) \(entry.shape) not in the FLOP count")
                }
            }
            XCTAssertEqual(TrainingBenchmark.modelFlops(config, atoms: atoms, molecules: molecules), expected, accuracy: expected * 1e-12,
                           "H \(hidden), L \(layers)")
        }
    }

    /// The JSON of `tbg bench train` has every key; the EMA's and clipping's seconds are null when
    /// they are off (they were a timing of nothing before), numbers when on.
    func testPartsThatAreOffAreNullInTheJSON() throws {
        let config = EGNNConfig(hidden: 8, layers: 1, featureWidth: 22)
        for (ema, clip) in [(nil, nil), (0.999, 1.0), (0.999, nil), (nil, 1.0)] as [(Double?, Double?)] {
            let result = TrainingBenchmark.run(model: config, atoms: 22, globalBatch: 2, steps: 1, warmup: 0, microBatch: 2,
                                               emaDecay: ema, gradientClip: clip, communicator: SerialCommunicator())
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any])
            for (key, setting) in [("ema_seconds", ema), ("ema_decay", ema), ("clip_seconds", clip), ("gradient_clip", clip)] {
                XCTAssertNotNil(json[key], "\(key) is present")
                XCTAssertEqual(json[key] is NSNull, setting == nil, "\(key): \(json[key] ?? "absent") with EMA \(String(describing: ema)), clip \(String(describing: clip))")
            }
            XCTAssertGreaterThan(json["samples_per_second"] as? Double ?? 0, 0)
        }
    }
}
