// The one JSON form of every `--json` output: sorted keys (stable for scripts), paths unescaped.
import Evaluation
import Foundation

enum JSONOutput {
    static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// What a `--json` run prints on stdout, in place of its result, when a stop signal (SIGUSR1,
/// SIGTERM, Ctrl-C) ended it before the result: one object, so that a script reading stdout learns
/// that the run stopped, where its finished work is kept, and whether `--resume` continues it. The
/// same words go to stderr; the exit status is that of any stop (0, or 130 after Ctrl-C).
struct StoppedRunJSON: Encodable {
    let stopped = true
    /// The subcommand, e.g. "free-energy".
    let command: String
    /// The signal's name, or "a stop signal to another rank".
    let cause: String
    /// The part of the run it stopped in, e.g. "chains", "reverse integrations".
    let stage: String
    /// The folder that holds the finished work (null when nothing was kept: every key is written,
    /// as the other `--json` outputs write undefined values).
    @JSONNullable var kept: String?
    /// Whether the same command with `--resume` continues from `kept` (false: the same command starts again).
    let resume: Bool
    /// The words printed to stderr.
    let message: String
}
