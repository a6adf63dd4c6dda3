@testable import WeftCrypto

/// Bytes from hexadecimal text; whitespace is ignored so long vectors can be split as in RFCs.
func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.unicodeScalars.filter { !$0.properties.isWhitespace }.map { Character($0) }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Lowercase hexadecimal text.
func hex(_ data: some Sequence<UInt8>) -> String {
    data.map { byte in
        let text = String(byte, radix: 16)
        return byte < 16 ? "0" + text : text
    }.joined()
}

func bytes32(_ hexText: String) -> Bytes32 {
    Bytes32(bytes(hexText))!
}

/// 0, 1, ..., n-1 (mod 256): the inputs of the BLAKE2 reference known-answer tests.
func sequentialBytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0) }
}

/// A small deterministic generator (SplitMix64) so randomized tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// The RFC 8439 §2.8.2 / draft-irtf-cfrg-xchacha A.3.1 plaintext.
let sunscreen = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
