// The hyperparameters of the TBG vector field (method.md §4.4) and the presets of the paper.

public struct EGNNConfig: Codable, Equatable, Sendable {
    /// Hidden width H.
    public var hidden: Int
    /// Number of E_GCL layers L.
    public var layers: Int
    /// One-hot feature width K; the network input is [one-hot ‖ t], K + 1 wide.
    public var featureWidth: Int
    /// Total coordinate range; each layer's update is scaled by ρ = coordsRange / L (method.md §4.2).
    public var coordsRange: Double

    public init(hidden: Int, layers: Int, featureWidth: Int, coordsRange: Double = 15) {
        self.hidden = hidden
        self.layers = layers
        self.featureWidth = featureWidth
        self.coordsRange = coordsRange
    }

    enum CodingKeys: String, CodingKey {
        case hidden, layers
        case featureWidth = "feature_width"
        case coordsRange = "coords_range"
    }

    /// ρ, the per-layer coordinate step scale.
    public var coordinateScale: Double { coordsRange / Double(layers) }

    /// Alanine dipeptide (AD2): H = 64, L = 5 (method.md §4.4).
    public static func alanineDipeptide(featureWidth: Int) -> EGNNConfig {
        EGNNConfig(hidden: 64, layers: 5, featureWidth: featureWidth)
    }

    /// Transferable dipeptides (2AA): H = 128, L = 9.
    public static func transferable(featureWidth: Int) -> EGNNConfig {
        EGNNConfig(hidden: 128, layers: 9, featureWidth: featureWidth)
    }
}
