// swift-tools-version:6.0
// libFuzzer targets for the parsers of text that users bring (issue 16): the MDTraj topology JSON, the
// OpenMM System XML (summary and the force field's typed parse with the CustomGBForce recogniser),
// the run configuration (YAML/JSON file and --set overrides) and the dataset index.json. A separate
// package so that a plain `swift build` of the project never needs the fuzzer runtime; build and run
// with Tools/fuzz.sh (swift build --sanitize=fuzzer --sanitize=address here).
import PackageDescription

let fuzzTarget = { (name: String) -> Target in
    .executableTarget(
        name: name,
        dependencies: [.product(name: "TBGInputParsers", package: "TBG")],
        // No Swift main: libFuzzer's main calls LLVMFuzzerTestOneInput.
        swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}

let package = Package(
    name: "TBGFuzz",
    dependencies: [.package(name: "TBG", path: "../..")],
    targets: ["FuzzTopology", "FuzzSystemXML", "FuzzRunConfig", "FuzzDatasetIndex"].map(fuzzTarget)
)
