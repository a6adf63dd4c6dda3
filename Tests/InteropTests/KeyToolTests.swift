import Foundation
import Testing

/// `weft genkey/pubkey/genpsk` against `wg` from wireguard-tools: a key made by either tool gives
/// the same public key in both, and bad input gets a one-line error and a non-zero exit.
@Suite(.enabled(if: Lab.which("wg"), "wireguard-tools (`wg`) is not installed: run scripts/setup"))
struct KeyToolTests {
    let weft = Lab.weftBinary

    @Test func weftKeysAgreeWithWg() throws {
        for _ in 0..<5 {
            let privateKey = try Lab.run([weft, "genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(privateKey.count == 44)
            let ours = try Lab.run([weft, "pubkey"], input: privateKey + "\n")
            let theirs = try Lab.run(["wg", "pubkey"], input: privateKey + "\n")
            #expect(ours == theirs)
        }
    }

    @Test func wgKeysAgreeWithWeft() throws {
        for _ in 0..<5 {
            let privateKey = try Lab.run(["wg", "genkey"])
            let ours = try Lab.run([weft, "pubkey"], input: privateKey)
            let theirs = try Lab.run(["wg", "pubkey"], input: privateKey)
            #expect(ours == theirs)
        }
    }

    @Test func genpskIsAValidKey() throws {
        let psk = try Lab.run([weft, "genpsk"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(psk.count == 44 && psk.hasSuffix("="))
        // wg accepts it as a key (pubkey of any 32 bytes is defined).
        _ = try Lab.run(["wg", "pubkey"], input: psk)
    }

    @Test(arguments: [
        "",                                               // nothing
        "not a key",                                      // two tokens, not base64
        "AAAA",                                           // too short
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk",    // 43 chars, pad missing
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk==",  // 45 chars
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm!=",   // bad character
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk= x", // trailing garbage
    ])
    func badInputIsRejected(input: String) throws {
        let result = try Lab.runCapturing([weft, "pubkey"], input: input)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected a one-line error, got: \(result.stderr)")
    }
}
