import Foundation
import Testing
@testable import WeftCrypto

/// A string that must not parse as a key, with the error expected.
struct RejectedKey: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let error: CryptoError
    var testDescription: String { name }
}

@Suite("WireGuard base64 keys")
struct Base64Tests {
    static let valid = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="

    static let rejected: [RejectedKey] = [
        .init(name: "empty", text: "", error: .invalidKeyLength(0)),
        .init(name: "43 chars (pad dropped)", text: String(valid.dropLast()), error: .invalidBase64),
        .init(name: "45 chars (extra pad)", text: valid + "=", error: .invalidBase64),
        .init(name: "45 chars (extra letter)", text: valid + "A", error: .invalidBase64),
        .init(name: "trailing newline", text: valid + "\n", error: .invalidBase64),
        .init(name: "leading space", text: " " + valid, error: .invalidBase64),
        .init(name: "44 chars, no pad (33 bytes)", text: String(valid.dropLast()) + "A", error: .invalidKeyLength(33)),
        .init(name: "44 chars, two pads (31 bytes)", text: String(valid.dropLast(3)) + "A==", error: .invalidKeyLength(31)),
        .init(name: "URL-safe '-'", text: valid.replacingOccurrences(of: "/", with: "-"), error: .invalidBase64),
        .init(name: "URL-safe '_'", text: "_" + valid.dropFirst(), error: .invalidBase64),
        .init(name: "bad char '*'", text: "*" + valid.dropFirst(), error: .invalidBase64),
        .init(name: "space inside", text: String(valid.prefix(20)) + " " + valid.dropFirst(21), error: .invalidBase64),
        .init(name: "pad in the middle", text: String(valid.prefix(20)) + "=" + valid.dropFirst(21), error: .invalidBase64),
        .init(name: "NUL inside", text: String(valid.prefix(20)) + "\0" + valid.dropFirst(21), error: .invalidBase64),
        .init(name: "non-ASCII letter", text: "é" + valid.dropFirst(2), error: .invalidBase64),
        .init(name: "non-canonical final character", text: String(valid.dropLast(2)) + "p=", error: .invalidBase64),
        .init(name: "all pads", text: String(repeating: "=", count: 44), error: .invalidBase64),
        .init(name: "16-byte key", text: "AAAAAAAAAAAAAAAAAAAAAA==", error: .invalidKeyLength(16)),
        .init(name: "48 chars (36 bytes)", text: valid.dropLast() + "AAAAA", error: .invalidKeyLength(36)),
        .init(name: "hex instead of base64", text: Curve25519Tests.alicePublic, error: .invalidKeyLength(48)),
    ]

    @Test("Malformed keys are rejected with a precise error", arguments: rejected)
    func rejection(_ vector: RejectedKey) {
        #expect(throws: vector.error) { try PublicKey(base64: vector.text) }
        #expect(throws: vector.error) { try PrivateKey(base64: vector.text) }
        #expect(throws: vector.error) { try PresharedKey(base64: vector.text) }
    }

    @Test("Errors explain themselves")
    func descriptions() {
        #expect(CryptoError.invalidKeyLength(16).description.contains("16 bytes"))
        #expect(CryptoError.invalidBase64.description.contains("44"))
        #expect(!CryptoError.weakSharedSecret.description.isEmpty)
        #expect(!CryptoError.authenticationFailed.description.isEmpty)
    }

    @Test("Encoding matches Foundation's for every length 0...100; decoding round-trips 32-byte keys")
    func againstFoundation() throws {
        var generator = SplitMix64(seed: 4648)
        for length in 0...100 {
            let data = generator.bytes(length)
            let ours = data.withUnsafeBytes { Base64.encode($0) }
            #expect(ours == Data(data).base64EncodedString(), "length \(length)")
        }
        for _ in 0..<200 {
            let raw = Bytes32(generator.bytes(32))!
            let text = Data(raw.array).base64EncodedString()
            #expect(text.count == 44 && text.hasSuffix("=") && !text.hasSuffix("=="))
            #expect(try PublicKey(base64: text).raw == raw)
            #expect(PublicKey(raw: raw).base64 == text)
        }
    }

    @Test("Every alphabet character decodes in every position")
    func fullAlphabet() throws {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for shift in 0..<64 {
            // 42 free characters, then one whose low two bits are zero, then the pad.
            let body = (0..<42).map { alphabet[($0 + shift) % 64] }
            let last = alphabet[(shift * 4) % 64]
            let text = String(body) + String(last) + "="
            let key = try PublicKey(base64: text)
            #expect(key.raw.array == Array(Data(base64Encoded: text)!))
            #expect(key.base64 == text)
        }
    }
}
