// A shared counter that hands out work items 0, 1, 2, … to whichever rank asks first: dynamic load
// balance for work whose cost varies (sampling chunks: dopri5 evaluations per sample vary by ±20 %
// and more). Unlike everything else in a `Communicator`, `next()` is NOT collective: each rank calls
// it as often as it likes. Creating and closing the counter are collective.
//
// Results must not depend on which rank took an item: callers seed and order by the item number.

public protocol WorkCounter: AnyObject {
    /// The next unclaimed item number (0, 1, 2, … over all ranks together; each number once).
    /// Not collective.
    func next() -> Int
    /// Releases the counter. Collective: every rank calls it once, after its last `next()`.
    func close()
}

/// The single-process counter.
public final class LocalWorkCounter: WorkCounter {
    private var value = 0
    public init() {}
    public func next() -> Int {
        defer { value += 1 }
        return value
    }
    public func close() {}
}
