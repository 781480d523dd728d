// libFuzzer target: a dataset folder's index.json (written to a scratch folder, as `tbg inspect DIR`
// and `tbg train` read it) through DatasetIndex.load and its checks. Any input must load or throw.
import Foundation
import MDData

private let folder: String = {
    let path = NSTemporaryDirectory() + "/tbg-fuzz-dataset-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    // One file that an index may list, so that the checks past "file missing" are reached too.
    _ = FileManager.default.createFile(atPath: path + "/AD.h5", contents: Data())
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatasetIndex(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(UnsafeBufferPointer(start: data, count: size))
    guard FileManager.default.createFile(atPath: folder + "/index.json", contents: body) else { return 0 }
    if let (index, _) = try? DatasetIndex.load(folder) {
        for split in DatasetIndex.splits { _ = index.entries(inSplit: split) }
    }
    return 0
}
