// The energy and log weight of every sample, valid or not, in the sample file: what the Prose/SBG
// variant of SNIS needs (field.md §4: mirror-fix, keep the samples that cannot be fixed or fail the
// bond graph, drop the top 0.2 % of log weights). `tbg evaluate` reads them as the `snis_clipped`
// protocol; files without them (older tbg sample, smc, mcmc) get that protocol reported as not
// computable, with the reason.
//
//   /samples/raw_energy                float64 [n], units kilojoules_per_mole: the force-field energy
//                                      of the coordinates as written (mirror-fixed; reference atom
//                                      order after a passed bond-graph check, the sampled order after
//                                      a failed one); NaN where the integration failed
//   /samples/raw_log_weight            float64 [n], units dimensionless: −raw_energy/kT − log_q;
//                                      −∞ for an infinite energy, NaN where the integration failed
//   /samples/isomorphism_budget_exhausted  uint8 [n]: the bond-graph check gave up (search budget)
//                                      instead of finding the graphs different
import HDF5

extension SampleFile {
    static func writeRawWeights(_ records: [SampleRecord], kT: Double, to group: HDF5Group) throws {
        let n = records.count
        let energies = try group.writeDataset("raw_energy", records.map(\.rawEnergy), shape: [n])
        try energies.writeAttribute("units", string: "kilojoules_per_mole")
        try energies.writeAttribute("description", string: "force-field energy of the written coordinates of every sample, valid or not (NaN: integration failed)")
        let weights = try group.writeDataset("raw_log_weight", records.map { $0.rawLogWeight(kT: kT) }, shape: [n])
        try weights.writeAttribute("units", string: "dimensionless")
        try weights.writeAttribute("description", string: "-raw_energy/kT - log_q for every sample, valid or not (NaN: integration failed)")
        try group.writeDataset("isomorphism_budget_exhausted", records.map { UInt8($0.isomorphismBudgetExhausted ? 1 : 0) }, shape: [n])
    }
}
