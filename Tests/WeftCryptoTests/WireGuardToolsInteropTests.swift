import Foundation
import Testing
@testable import WeftCrypto

/// Checks against the real `wg` from wireguard-tools: same public keys, same key syntax.
/// Foundation's `Process` is used here only, to run the tool.
@Suite("Interop with wireguard-tools (wg)",
       .enabled(if: FileManager.default.isExecutableFile(atPath: WireGuardTool.path),
                "wg (wireguard-tools) is not installed at /usr/bin/wg"))
struct WireGuardToolsInteropTests {
    @Test("wg genkey | wg pubkey equals PrivateKey(base64:).publicKey.base64")
    func publicKeyOfGeneratedKey() throws {
        for _ in 0..<8 {
            let generated = try WireGuardTool.run(["genkey"])
            #expect(generated.status == 0)
            let privateText = generated.output.trimmingCharacters(in: .whitespacesAndNewlines)
            let expected = try WireGuardTool.run(["pubkey"], input: privateText + "\n")
            #expect(expected.status == 0)
            let key = try PrivateKey(base64: privateText)
            #expect(key.publicKey.base64 == expected.output.trimmingCharacters(in: .whitespacesAndNewlines))
            // wg genkey already clamps, so the key prints back unchanged.
            #expect(key.base64 == privateText)
        }
    }

    @Test("PrivateKey().base64 | wg pubkey equals our public key")
    func publicKeyOfOurKey() throws {
        for _ in 0..<8 {
            let key = PrivateKey()
            let result = try WireGuardTool.run(["pubkey"], input: key.base64 + "\n")
            #expect(result.status == 0)
            #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKey.base64)
        }
    }

    @Test("wg genpsk output parses as a pre-shared key")
    func presharedKey() throws {
        let generated = try WireGuardTool.run(["genpsk"])
        let text = generated.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try PresharedKey(base64: text).base64 == text)
    }

    @Test("wg pubkey rejects the strings we reject (wg itself strips trailing whitespace)",
          arguments: Base64Tests.rejected.filter { $0.text.last.map { !$0.isWhitespace } ?? true })
    func sameRejections(_ vector: RejectedKey) throws {
        let result = try WireGuardTool.run(["pubkey"], input: vector.text)
        #expect(result.status != 0, "wg accepted \(vector.name)")
    }
}

enum WireGuardTool {
    static let path = "/usr/bin/wg"

    /// Runs `wg` with `input` on stdin; returns its exit status and stdout. `wg genkey/pubkey/
    /// genpsk` read at most one key and exit, so this cannot hang on a well-behaved tool.
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
