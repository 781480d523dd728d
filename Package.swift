// swift-tools-version:6.0
// Transferable Boltzmann Generators (Klein & Noé, NeurIPS 2024) as an MPI program.
//
// Layers, with one-way dependencies (see README "Code layout"):
//   C bindings (CMPI, CHDF5, CBLAS)  — system libraries with static-inline shims
//   CKernels (C hot loops: portable, AVX2/FMA and AVX-512 variants chosen at run time), Kernels, Model
//   Linalg (BLAS), HDF5 (files), Communication (the only module that talks to MPI)
//   MDData (the dipeptide trajectory/dataset format, on top of HDF5)
//   ForceField (pure math: the OpenMM System's energy and forces in double precision)
//   Transport (pure math: exact assignment, Kabsch/permutation alignment, minibatch OT couplings)
//   Evaluation (pure math: samples against MD — exact Wasserstein distances, torus transport, JSD, ΔF)
//   MonteCarlo (pure math: MALA/HMC steps, systematic resampling, tempering, independence sampler)
//   FlowModel (a trained flow: run configuration, checkpoint file, checkpoint → model for a peptide,
//     nm ↔ model units), below Training and Sampling
//   Training (the training loop), Sampling (sampler, post-processing, sample file, rank runners)
//   tbg (the executable: argument parsing and drivers)
// No -march flags here: binaries must run on every x86-64 machine of a cluster.
import PackageDescription

let package = Package(
    name: "TBG",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tbg", targets: ["tbg"]),
        // The parsers of outside text (topology JSON, System XML, run configuration, dataset index),
        // for the libFuzzer targets of the separate package Tools/fuzz (Tools/fuzz.sh).
        .library(name: "TBGInputParsers", targets: ["MDData", "ForceField", "FlowModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),

        .target(name: "Linalg", dependencies: ["CBLAS"]),
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        .target(name: "Communication", dependencies: ["CMPI"]),
        .target(name: "MDData", dependencies: ["HDF5"]),
        .target(name: "ForceField"),
        // C for the elementwise and per-edge loops: AVX2/FMA or AVX-512 chosen at run time (no -march needed).
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "Kernels", dependencies: ["Linalg", "CKernels"]),
        .target(name: "Model", dependencies: ["Kernels", "Linalg"]),
        .target(name: "Optim"),
        .target(name: "ODE"),
        // Pure math below Training and Evaluation: exact assignment, rigid alignment, OT couplings.
        .target(name: "Transport"),
        .target(name: "Evaluation", dependencies: ["Kernels", "Transport"]),
        // Pure math: Monte Carlo kernels over particle batches (MALA, HMC, systematic resampling,
        // tempering, step-size adaptation, the independence sampler); energies come from a callback.
        .target(name: "MonteCarlo", dependencies: ["Kernels", "Evaluation"]),
        // A trained flow below Training and Sampling: the run configuration, the checkpoint file,
        // checkpoint → (model, encoding, units) for a peptide, and the nm ↔ model-unit conversion.
        .target(
            name: "FlowModel",
            dependencies: ["Model", "Kernels", "Linalg", "Optim", "MDData", "HDF5", .product(name: "Yams", package: "Yams")]),
        .target(name: "Sampling", dependencies: ["MonteCarlo", "FlowModel", "Model", "Kernels", "Linalg", "ODE", "ForceField", "MDData", "HDF5", "Communication", "Evaluation"]),
        .target(
            name: "Training",
            dependencies: ["FlowModel", "Model", "Kernels", "Optim", "MDData", "HDF5", "Communication", "Transport"]),

        .executableTarget(
            name: "tbg",
            dependencies: [
                "MDData", "HDF5", "Communication", "Linalg", "ForceField", "Model", "FlowModel", "Training", "Sampling", "Evaluation", "MonteCarlo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "TestSupport", dependencies: ["HDF5"], path: "Tests/TestSupport"),
        .testTarget(name: "LinalgTests", dependencies: ["Linalg", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Linalg"]),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"]),
        .testTarget(name: "CommunicationTests", dependencies: ["Communication", "TestSupport", "tbg"]),
        .testTarget(name: "MDDataTests", dependencies: ["MDData", "HDF5", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Kernels", "Linalg", "HDF5", "MDData", "TestSupport"]),
        .testTarget(name: "ODETests", dependencies: ["ODE", "TestSupport"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Kernels", "HDF5", "TestSupport"]),
        .testTarget(name: "MonteCarloTests", dependencies: ["MonteCarlo", "Sampling", "Evaluation", "Communication", "ForceField", "MDData", "TestSupport"]),
        .testTarget(name: "SamplingTests", dependencies: ["Sampling", "MonteCarlo", "Evaluation", "Model", "MDData", "ForceField", "FlowModel", "Training", "Communication", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "FlowModel", "Model", "Optim", "MDData", "Communication", "TestSupport"]),
        .testTarget(name: "ForceFieldTests", dependencies: ["ForceField", "MDData", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Evaluation", "HDF5", "MDData", "tbg"]),
    ]
)
