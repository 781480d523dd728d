// Bonded terms of the Amber force fields, as OpenMM evaluates them.
//
//   HarmonicBondForce      E = ½ k (r − d)²
//   HarmonicAngleForce     E = ½ k (θ − θ₀)²,  θ at the middle atom
//   PeriodicTorsionForce   E = k (1 + cos(n φ − φ₀)),  φ the IUPAC dihedral (propers and impropers)
//
// Gradients: the bond is along the unit vector; the angle uses dθ/da = a×(a×b) / (|a|² |a×b|)
// (a, b the arms from the vertex), which stays finite near θ = 0, π only through |a×b| > 0; the
// dihedral uses the Blondel–Karplus form (J. Comput. Chem. 17, 1132 (1996)).

import Foundation

public struct HarmonicBonds: EnergyTerm {
    public let forceName = "HarmonicBondForce"
    let atoms: [Int32]          // 2 per bond
    let parameters: [Double]    // (d nm, k kJ/mol/nm²) per bond

    public var count: Int { atoms.count / 2 }

    public func energy(positions x: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        for bond in 0..<count {
            let i = Int(atoms[2 * bond]), j = Int(atoms[2 * bond + 1])
            let d = parameters[2 * bond], k = parameters[2 * bond + 1]
            let v = displacement(x, i, j)
            let r = norm(v)
            let stretch = r - d
            total += 0.5 * k * stretch * stretch
            if let gradient {
                let scale = r > 0 ? k * stretch / r : 0
                accumulate(gradient, j, scale * v)
                accumulate(gradient, i, -scale * v)
            }
        }
        return total
    }
}

public struct HarmonicAngles: EnergyTerm {
    public let forceName = "HarmonicAngleForce"
    let atoms: [Int32]          // 3 per angle, vertex in the middle
    let parameters: [Double]    // (θ₀ rad, k kJ/mol/rad²)

    public var count: Int { atoms.count / 3 }

    public func energy(positions x: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        for angle in 0..<count {
            let i = Int(atoms[3 * angle]), j = Int(atoms[3 * angle + 1]), k = Int(atoms[3 * angle + 2])
            let theta0 = parameters[2 * angle], stiffness = parameters[2 * angle + 1]
            let a = displacement(x, j, i), b = displacement(x, j, k)
            let normal = cross(a, b)
            let sine = norm(normal)
            let theta = atan2(sine, dot(a, b))
            let delta = theta - theta0
            total += 0.5 * stiffness * delta * delta
            if let gradient, sine > 0 {
                let dEdTheta = stiffness * delta
                let gradA = (dEdTheta / (dot(a, a) * sine)) * cross(a, normal)
                let gradB = (dEdTheta / (dot(b, b) * sine)) * cross(b, -normal)
                accumulate(gradient, i, gradA)
                accumulate(gradient, k, gradB)
                accumulate(gradient, j, -(gradA + gradB))
            }
        }
        return total
    }
}

public struct PeriodicTorsions: EnergyTerm {
    public let forceName = "PeriodicTorsionForce"
    let atoms: [Int32]          // 4 per torsion
    let parameters: [Double]    // (n, φ₀ rad, k kJ/mol)

    public var count: Int { atoms.count / 4 }

    public func energy(positions x: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        var total = 0.0
        for torsion in 0..<count {
            let p1 = Int(atoms[4 * torsion]), p2 = Int(atoms[4 * torsion + 1])
            let p3 = Int(atoms[4 * torsion + 2]), p4 = Int(atoms[4 * torsion + 3])
            let n = parameters[3 * torsion], phase = parameters[3 * torsion + 1], k = parameters[3 * torsion + 2]
            let b1 = displacement(x, p1, p2), b2 = displacement(x, p2, p3), b3 = displacement(x, p3, p4)
            let m = cross(b1, b2), nn = cross(b2, b3)
            let b2Length = norm(b2)
            let phi = atan2(b2Length * dot(b1, nn), dot(m, nn))
            total += k * (1 + cos(n * phi - phase))
            if let gradient {
                let mm = dot(m, m), nnn = dot(nn, nn)
                guard mm > 0, nnn > 0, b2Length > 0 else { continue }
                let dEdPhi = -k * n * sin(n * phi - phase)
                let grad1 = (-b2Length / mm) * m
                let grad4 = (b2Length / nnn) * nn
                let f1 = dot(b1, b2) / (b2Length * b2Length), f3 = dot(b3, b2) / (b2Length * b2Length)
                // Translation invariance fixes the middle atoms: Σ grad = 0 (Bekker's form).
                let grad2 = (-1 - f1) * grad1 + f3 * grad4
                let grad3 = (-1 - f3) * grad4 + f1 * grad1
                accumulate(gradient, p1, dEdPhi * grad1)
                accumulate(gradient, p2, dEdPhi * grad2)
                accumulate(gradient, p3, dEdPhi * grad3)
                accumulate(gradient, p4, dEdPhi * grad4)
            }
        }
        return total
    }
}
