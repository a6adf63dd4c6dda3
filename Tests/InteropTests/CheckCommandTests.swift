import Foundation
import Testing

/// `weft check`: the shipped example configurations validate and agree with each other; a bad
/// file gets one line naming file, line, column and field, and a non-zero exit.
struct CheckCommandTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples").path

    @Test func examplesValidateAndAgree() throws {
        let files = ["site-a", "hub", "site-b"].map { "\(Self.examples)/\($0).yaml" }
        let result = try Lab.runCapturing([Lab.weftBinary, "check"] + files)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("3 nodes agree on every shared link"))
    }

    @Test func badFileNamesLineAndField() throws {
        let file = NSTemporaryDirectory() + "weft-check-\(getpid()).yaml"
        try "node:\n  name: x\n  privKey: abc\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try Lab.runCapturing([Lab.weftBinary, "check", file])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("\(file):3:12: node.privKey:"), "\(result.stderr)")
    }
}
