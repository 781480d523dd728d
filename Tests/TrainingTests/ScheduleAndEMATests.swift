// Learning-rate schedules at known steps (step decay at fractions of the total, epoch milestones,
// PyTorch's OneCycleLR, warm-up–stable–decay), the EMA warm-up, NaN-safe clipping, and stored
// configurations from before schedules existed.
import Foundation
import Optim
import TestSupport
import FlowModel
import Training
import XCTest

final class ScheduleAndEMATests: XCTestCase {
    func testStepDecayAtFractionsOfTheTotal() {
        var schedule = LearningRateSchedule(kind: .step, base: 5e-4, totalSteps: 300)
        schedule.decayFractions = [1.0 / 3, 2.0 / 3]   // 2AA: ×0.1 at 1/3 and 2/3
        XCTAssertEqual(schedule.learningRate(step: 0), 5e-4)
        XCTAssertEqual(schedule.learningRate(step: 99), 5e-4)
        XCTAssertEqual(schedule.learningRate(step: 100), 5e-5, accuracy: 1e-18)
        XCTAssertEqual(schedule.learningRate(step: 199), 5e-5, accuracy: 1e-18)
        XCTAssertEqual(schedule.learningRate(step: 200), 5e-6, accuracy: 1e-18)
        XCTAssertEqual(schedule.learningRate(step: 10_000), 5e-6, accuracy: 1e-18, "past the total: the final rate")
        var ad2 = LearningRateSchedule(kind: .step, base: 5e-4, totalSteps: 391_000)
        ad2.decayFractions = [0.5]
        XCTAssertEqual(ad2.learningRate(step: 195_499), 5e-4)
        XCTAssertEqual(ad2.learningRate(step: 195_500), 5e-5, accuracy: 1e-18)
    }

    func testEpochMilestonesAreStillAvailable() {
        var schedule = LearningRateSchedule(kind: .epochs, base: 5e-4, totalSteps: 1)
        schedule.decayEpochs = [4, 8]
        schedule.stepsPerEpoch = 10
        XCTAssertEqual(schedule.learningRate(step: 39), 5e-4)
        XCTAssertEqual(schedule.learningRate(step: 40), 5e-5, accuracy: 1e-18)
        XCTAssertEqual(schedule.learningRate(step: 95), 5e-6, accuracy: 1e-18)
    }

    func testOneCycleMatchesPyTorchsDefinition() {
        // torch OneCycleLR(max_lr=1e-3, total_steps=101, pct_start=0.05, div_factor=500,
        // final_div_factor=1, anneal_strategy="cos"): phase 1 ends at step 0.05·101 − 1 = 4.05,
        // phase 2 at 100; lr(s) = end + (start − end)(1 + cos(π·p))/2.
        var schedule = LearningRateSchedule(kind: .onecycle, base: 1e-3, totalSteps: 101)
        schedule.warmupFraction = 0.05
        schedule.divFactor = 500
        schedule.finalDivFactor = 1
        let initial = 1e-3 / 500
        XCTAssertEqual(schedule.learningRate(step: 0), initial, accuracy: 1e-15, "starts at lr/500")
        let p = 2 / 4.05
        XCTAssertEqual(schedule.learningRate(step: 2), 1e-3 + (initial - 1e-3) * (1 + cos(.pi * p)) / 2, accuracy: 1e-15)
        let q = (50 - 4.05) / (100 - 4.05)
        XCTAssertEqual(schedule.learningRate(step: 50), initial + (1e-3 - initial) * (1 + cos(.pi * q)) / 2, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 100), initial, accuracy: 1e-15, "ends at lr/500")
        let peak = (0...100).map { schedule.learningRate(step: $0) }.max()!
        XCTAssertEqual(peak, 1e-3, accuracy: 2e-5, "peaks near lr right after the warm-up")
    }

    func testWarmupStableDecayCanStartItsDecayLater() {
        var schedule = LearningRateSchedule(kind: .wsd, base: 1e-3, totalSteps: 1)
        schedule.warmupSteps = 10
        schedule.finalFraction = 0.01
        XCTAssertEqual(schedule.learningRate(step: 0), 1e-4, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 9), 1e-3, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 1_000_000), 1e-3, "no decay start: stable for ever")
        schedule.decayStart = 500
        schedule.decaySteps = 100
        XCTAssertEqual(schedule.learningRate(step: 499), 1e-3)
        XCTAssertEqual(schedule.learningRate(step: 550), 1e-3 * (0.01 + 0.99 / 2), accuracy: 1e-15, "half-way down the cosine")
        XCTAssertEqual(schedule.learningRate(step: 600), 1e-5, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 900), 1e-5, accuracy: 1e-15)
    }

    func testConfigurationBuildsTheSchedule() throws {
        let config = try RunConfig.resolve(file: nil, overrides: ["training.schedule=onecycle", "training.learning_rate=0.002",
                                                                   "training.initial_lr_fraction=0.04", "training.final_lr_fraction=0.0004"])
        let schedule = config.training.learningRateSchedule(total: 200, stepsPerEpoch: 7)
        XCTAssertEqual(schedule.learningRate(step: 0), 0.002 * 0.04, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 199), 0.002 * 0.0004, accuracy: 1e-15)
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["training.schedule=epochs"])) {
            XCTAssertTrue("\($0)".contains("lr_decay_epochs"), "\($0)")
        }
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["training.lr_decay_fractions=[1.5]"]))
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["training.schedule=cosine"])) {
            XCTAssertTrue("\($0)".contains("cosine"), "\($0)")
        }
    }

    func testStoredConfigurationsFromBeforeSchedulesKeepTheirMeaning() throws {
        // A checkpoint's config of the previous format: no schedule key, epoch milestones.
        let old = #"{"model": {"hidden": 64, "layers": 5, "encoding": "atoms", "coords_range": 15, "scaling": 10}, "data": {"dataset": "data/ad2-10ns", "frames_per_peptide": 256, "window_frames": 64, "shuffle_windows": 16, "validation_fraction": 0.05, "validation_frames": 256, "micro_batch": 8}, "training": {"steps": 6000, "learning_rate": 0.0005, "lr_decay_epochs": [120], "lr_decay_factor": 0.1, "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08, "weight_decay": 0}, "sigma": 0.01, "ema_decay": null, "gradient_clip": null, "seed": 1, "log_every": 20, "validate_every": 200, "checkpoint_every": 500, "checkpoint": "runs/ad2/checkpoint.h5"}}"#
        let config = try RunConfig.decode(json: old)
        XCTAssertEqual(config.training.schedule, .epochs)
        XCTAssertEqual(config.training.lrDecayEpochs, [120])
        XCTAssertEqual(config.training.checkpoint, "runs/ad2/checkpoint.h5")
        XCTAssertEqual(config.training.coupling, .independent)
        XCTAssertEqual(config.data.stream, .auto)
        XCTAssertEqual(try RunConfig.decode(json: config.json()), config, "today's JSON round-trips")
    }

    func testEMAWarmupValues() {
        XCTAssertEqual(ExponentialMovingAverage.effectiveDecay(0.999, update: 0, warmup: true), 0.1, accuracy: 1e-15)
        XCTAssertEqual(ExponentialMovingAverage.effectiveDecay(0.999, update: 10, warmup: true), 11.0 / 20, accuracy: 1e-15)
        XCTAssertEqual(ExponentialMovingAverage.effectiveDecay(0.999, update: 8990, warmup: true), 0.999, accuracy: 1e-15, "(1+t)/(10+t) reaches d at t = 8990")
        XCTAssertEqual(ExponentialMovingAverage.effectiveDecay(0.999, update: 0, warmup: false), 0.999)
        // After 2000 updates towards a constant 1 from 0: the weight of the initial value is
        // Π d_t = 9!·2000!/2009! ≈ 10⁻²⁴ with the warm-up instead of 0.999²⁰⁰⁰ ≈ 13.5 % without.
        let ema = ExponentialMovingAverage(initial: [0], decay: 0.999)
        let plain = ExponentialMovingAverage(initial: [0], decay: 0.999, warmup: false)
        let one: [Float] = [1]
        for _ in 0..<2000 { one.withUnsafeBufferPointer { ema.update($0.baseAddress!); plain.update($0.baseAddress!) } }
        XCTAssertLessThan(Double(1 - ema.values[0]), 1e-6)
        XCTAssertEqual(Double(1 - plain.values[0]), pow(0.999, 2000), accuracy: 1e-4)
        XCTAssertEqual(ema.updates, 2000)
    }

    func testClippingPassesNaNThroughForTheCallerToSkip() {
        var gradients: [Float] = [3, 4]
        let norm = gradients.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: 2, maxNorm: 1) }
        XCTAssertEqual(norm, 5, accuracy: 1e-12)
        XCTAssertEqual(Double(gradients[0]), 0.6, accuracy: 1e-6)
        var bad: [Float] = [.nan, 1]
        XCTAssertTrue(bad.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: 2, maxNorm: 1) }.isNaN)
        var overflow: [Float] = [.infinity, 1]
        XCTAssertFalse(overflow.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: 2, maxNorm: 1) }.isFinite)
    }
}
