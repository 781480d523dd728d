// The integrators on analytic fields: their order of convergence, tolerance-controlled accuracy,
// per-sample step control, reverse integration, and the log-determinant of a linear flow.
import Foundation
import ODE
import TestSupport
import XCTest

final class IntegratorTests: XCTestCase {
    /// dx/dt = cos(t)·x, solution x(t) = x₀ exp(sin t); one column per sample.
    private let growth: BatchedField = { times, x, dx, active in
        for s in active { dx[s] = cos(times[s]) * x[s] }
    }

    func testRungeKutta4ConvergesAtFourthOrder() {
        var errors: [Double] = []
        for steps in [10, 20, 40] {
            var x = [1.0, 2.0]
            _ = RungeKutta4.integrate(states: &x, dimension: 1, from: 0, to: 2, steps: steps, field: growth)
            errors.append(abs(x[1] - 2 * exp(sin(2.0))))
        }
        let orders = zip(errors, errors.dropFirst()).map { log2($0 / $1) }
        for order in orders { XCTAssertEqual(order, 4, accuracy: 0.25, "observed order \(orders)") }
    }

    func testDormandPrinceFifthOrderSolutionConvergesAtFifthOrder() throws {
        // With tolerances so loose that every step is accepted, the step sizes follow h ∝ tol^(1/5);
        // instead measure the order directly: force a fixed step through maximumSteps-free
        // integration of a field whose step control we pin by tiny intervals.
        var errors: [Double] = []
        for pieces in [4, 8, 16] {
            var x = [1.0]
            let width = 2.0 / Double(pieces)
            var stepper = DormandPrince(absoluteTolerance: 1e3, relativeTolerance: 1e3)   // accept any step
            stepper.maximumSteps = 10
            for piece in 0..<pieces {
                // Each piece is short enough that the initial-step heuristic is clipped to it: one step per piece.
                _ = try stepper.integrate(states: &x, dimension: 1, from: Double(piece) * width, to: Double(piece + 1) * width, field: growth)
            }
            errors.append(abs(x[0] - exp(sin(2.0))))
        }
        let orders = zip(errors, errors.dropFirst()).map { log2($0 / $1) }
        for order in orders { XCTAssertEqual(order, 5, accuracy: 0.6, "observed order \(orders), errors \(errors)") }
    }

    func testAdaptiveIntegrationMeetsItsToleranceForwardAndBackward() throws {
        for tolerance in [1e-4, 1e-7, 1e-10] {
            var x = [1.0, -0.5]
            let solver = DormandPrince(absoluteTolerance: tolerance, relativeTolerance: tolerance)
            _ = try solver.integrate(states: &x, dimension: 1, from: 0, to: 3, field: growth)
            XCTAssertEqual(x[0], exp(sin(3.0)), accuracy: 50 * tolerance)
            XCTAssertEqual(x[1], -0.5 * exp(sin(3.0)), accuracy: 50 * tolerance)
            // And back to t = 0 recovers the start.
            _ = try solver.integrate(states: &x, dimension: 1, from: 3, to: 0, field: growth)
            XCTAssertEqual(x[0], 1, accuracy: 100 * tolerance)
        }
    }

    func testEachSampleControlsItsOwnSteps() throws {
        // Sample 0 is smooth, sample 1 oscillates fast: per-sample control gives them different
        // step counts, and the smooth sample's result does not depend on its batch mate.
        let field: BatchedField = { times, x, dx, active in
            for s in active {
                let rate = s == 0 ? 1.0 : 40.0
                dx[2 * s] = rate * x[2 * s + 1]
                dx[2 * s + 1] = -rate * x[2 * s]
            }
        }
        var both = [1.0, 0.0, 1.0, 0.0]
        let solver = DormandPrince(absoluteTolerance: 1e-8, relativeTolerance: 1e-8)
        let statistics = try solver.integrate(states: &both, dimension: 2, from: 0, to: 1, field: field)
        XCTAssertLessThan(statistics.acceptedSteps[0] * 3, statistics.acceptedSteps[1])
        XCTAssertEqual(both[0], cos(1.0), accuracy: 1e-7)
        XCTAssertEqual(both[2], cos(40.0), accuracy: 1e-6)
        var alone = [1.0, 0.0]
        _ = try solver.integrate(states: &alone, dimension: 2, from: 0, to: 1, field: field)
        XCTAssertEqual(alone, Array(both[0..<2]), "a sample's trajectory does not depend on its batch mates")
    }

    func testTimesReachTheFieldPerSample() throws {
        // dx/dt = t·k_s x: sample 1 is stiffer and takes more steps, so after sample 0 finishes the
        // field sees only sample 1 — with its own time.
        let field: BatchedField = { times, x, dx, active in
            for s in active { dx[s] = times[s] * (s == 0 ? 0.5 : 30) * cos(30 * times[s]) }
        }
        var x = [0.0, 0.0]
        let solver = DormandPrince(absoluteTolerance: 1e-9, relativeTolerance: 1e-9)
        let statistics = try solver.integrate(states: &x, dimension: 1, from: 0, to: 1, field: field)
        XCTAssertLessThan(statistics.acceptedSteps[0], statistics.acceptedSteps[1])
        // ∫₀¹ k t cos(30t) dt = k (cos 30 + 30 sin 30 − 1)/900
        let integral = (cos(30.0) + 30 * sin(30.0) - 1) / 900
        XCTAssertEqual(x[0], 0.5 * integral, accuracy: 1e-8)
        XCTAssertEqual(x[1], 30 * integral, accuracy: 1e-7)
    }

    func testLogDeterminantOfALinearFlow() throws {
        // dx/dt = A x with the log-determinant accumulated as a state component: da/dt = tr A,
        // so a(1) = tr A and det(exp A) = exp(tr A). Error norm groups x and a separately.
        let matrix: [[Double]] = [[-0.3, 1.2, 0.0], [-0.8, 0.1, 0.5], [0.2, 0.0, -0.6]]
        let trace = matrix[0][0] + matrix[1][1] + matrix[2][2]
        let field: BatchedField = { _, x, dx, active in
            for s in active {
                for row in 0..<3 { dx[4 * s + row] = (0..<3).map { matrix[row][$0] * x[4 * s + $0] }.reduce(0, +) }
                dx[4 * s + 3] = trace
            }
        }
        var state = [0.5, -1.0, 2.0, 0.0]
        let solver = DormandPrince(absoluteTolerance: 1e-9, relativeTolerance: 1e-9, normGroups: [0..<3, 3..<4])
        _ = try solver.integrate(states: &state, dimension: 4, from: 0, to: 1, field: field)
        XCTAssertEqual(state[3], trace, accuracy: 1e-12)
    }

    func testRunawayIntegrationFailsClearly() throws {
        // dx/dt = x² from x = 1 blows up at t = 1: the sample is reported as failed, not returned as finished.
        let explode: BatchedField = { _, x, dx, active in for s in active { dx[s] = x[s] * x[s] } }
        var x = [1.0]
        let statistics = try DormandPrince(maximumSteps: 200).integrate(states: &x, dimension: 1, from: 0, to: 2, field: explode)
        XCTAssertFalse(statistics.succeeded(0))
        XCTAssertNotNil(statistics.failures[0])
    }

    func testAFailingSampleIsReportedAndTheOthersFinish() throws {
        // Sample 1's field blows up past t = 0.5 (non-finite state); sample 2's field is so stiff
        // that it needs far more than 50 steps; samples 0 and 3 are ordinary.
        let field: BatchedField = { times, x, dx, active in
            for s in active {
                switch s {
                case 1: dx[s] = times[s] > 0.5 ? .nan : x[s]
                case 2: dx[s] = -1e6 * (x[s] - cos(times[s]))
                default: dx[s] = cos(times[s]) * x[s]
                }
            }
        }
        var x = [1.0, 1.0, 1.0, 2.0]
        let statistics = try DormandPrince(absoluteTolerance: 1e-8, relativeTolerance: 1e-8, maximumSteps: 50)
            .integrate(states: &x, dimension: 1, from: 0, to: 1, field: field)
        XCTAssertTrue(statistics.succeeded(0) && statistics.succeeded(3))
        XCTAssertEqual(x[0], exp(sin(1.0)), accuracy: 1e-6)
        XCTAssertEqual(x[3], 2 * exp(sin(1.0)), accuracy: 1e-6)
        XCTAssertTrue(try XCTUnwrap(statistics.failures[1]).contains("non-finite"), "\(statistics.failures)")
        XCTAssertTrue(try XCTUnwrap(statistics.failures[2]).contains("more than 50 steps"), "\(statistics.failures)")
        // A non-finite start fails at once.
        var bad = [Double.nan, 1]
        let first = try DormandPrince().integrate(states: &bad, dimension: 1, from: 0, to: 1, field: growth)
        XCTAssertEqual(first.failures[0], "non-finite initial state")
        XCTAssertNil(first.failures[1])
    }
}
