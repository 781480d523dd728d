// The independence Metropolis–Hastings sampler (Tierney 1994, "Markov chains for exploring
// posterior distributions", Ann. Stat. 22(4), §2.3.3): proposals x' ~ q independent of the current
// state, accepted with probability
//   α(x → x') = min(1, w(x') / w(x)),  w = π / q  (unnormalised importance weights),
// i.e. min(1, exp(log w' − log w)) with the log w = −u − log q that `tbg sample` already stored.
// It satisfies detailed balance π(x) q(x') α(x → x') = π(x') q(x) α(x' → x) = min(π(x) q(x'),
// π(x') q(x)).
import Foundation

public enum IndependenceMetropolis {
    /// α(x → x') from the log weights of the current state and the proposal; a proposal with
    /// log w' = −∞ or NaN is never accepted; from a current state with log w = −∞, any proposal with
    /// finite weight is.
    public static func acceptanceProbability(current: Double, proposed: Double) -> Double {
        guard !proposed.isNaN, proposed > -.infinity else { return 0 }
        guard !current.isNaN, current > -.infinity else { return 1 }
        return min(1, exp(proposed - current))
    }

    /// The accept/reject decision with `uniform` U in [0, 1): accept iff U < α.
    public static func accepts(current: Double, proposed: Double, uniform: Double) -> Bool {
        uniform < acceptanceProbability(current: current, proposed: proposed)
    }
}
