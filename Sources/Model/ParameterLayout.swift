// Where every parameter lives in the flat parameter arena, by name and PyTorch shape (out, in).
// The names are the original TBG module names (`gcl_{l}.edge_mlp.0.weight`, …), so weights move
// between this program and PyTorch by name; the gradient, Adam moments and EMA use the same layout,
// so the optimizer and the MPI all-reduce each see one flat array.

public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Offsets of one E_GCL layer's tensors.
    public struct LayerOffsets: Sendable, Equatable {
        public let edge1Weight: Int, edge1Bias: Int     // (H, 2H+2), (H)
        public let edge2Weight: Int, edge2Bias: Int     // (H, H), (H)
        public let attentionWeight: Int, attentionBias: Int   // (1, H), (1)
        public let coord1Weight: Int, coord1Bias: Int   // (H, H), (H)
        public let coord2Weight: Int                    // (1, H), no bias
        public let node1Weight: Int, node1Bias: Int     // (H, 2H), (H)
        public let node2Weight: Int, node2Bias: Int     // (H, H), (H)
    }

    public let entries: [Entry]
    public let count: Int
    public let embeddingWeight: Int   // (H, K+1)
    public let embeddingBias: Int     // (H)
    public let layers: [LayerOffsets]

    public init(_ config: EGNNConfig) {
        var entries: [Entry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            defer { offset += shape.reduce(1, *) }
            return offset
        }
        let h = config.hidden
        embeddingWeight = add("embedding.weight", [h, config.featureWidth + 1])
        embeddingBias = add("embedding.bias", [h])
        var layers: [LayerOffsets] = []
        for l in 0..<config.layers {
            let p = "gcl_\(l)."
            layers.append(LayerOffsets(
                edge1Weight: add(p + "edge_mlp.0.weight", [h, 2 * h + 2]), edge1Bias: add(p + "edge_mlp.0.bias", [h]),
                edge2Weight: add(p + "edge_mlp.2.weight", [h, h]), edge2Bias: add(p + "edge_mlp.2.bias", [h]),
                attentionWeight: add(p + "att_mlp.0.weight", [1, h]), attentionBias: add(p + "att_mlp.0.bias", [1]),
                coord1Weight: add(p + "coord_mlp.0.weight", [h, h]), coord1Bias: add(p + "coord_mlp.0.bias", [h]),
                coord2Weight: add(p + "coord_mlp.2.weight", [1, h]),
                node1Weight: add(p + "node_mlp.0.weight", [h, 2 * h]), node1Bias: add(p + "node_mlp.0.bias", [h]),
                node2Weight: add(p + "node_mlp.2.weight", [h, h]), node2Bias: add(p + "node_mlp.2.bias", [h])))
        }
        self.entries = entries
        self.layers = layers
        count = offset
    }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
}
