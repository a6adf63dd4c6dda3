import CSodium

/// 32 bytes stored inline (no heap): hashes, chaining keys, public keys, symmetric keys.
///
/// Storage is four machine words so that copies, equality and hashing are a handful of
/// instructions. Equality is branch-free over all 32 bytes, so comparing secret values through
/// `==` does not leak where they differ.
public struct Bytes32: Hashable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// All zero bytes.
    public static var zero: Bytes32 { Bytes32() }

    /// All zero bytes.
    public init() {
        words = (0, 0, 0, 0)
    }

    /// The given bytes, or nil unless there are exactly 32 of them.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        self.init()
        withUnsafeMutableBytes { raw in
            for (index, byte) in zip(raw.indices, bytes) { raw[index] = byte }
        }
    }

    /// Copies the first 32 bytes of `raw`, which must hold at least 32.
    public init(copying raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32, "Bytes32(copying:) needs at least 32 bytes, got \(raw.count)")
        self.init()
        withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<32])) }
    }

    /// Calls `body` with the 32 bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// Calls `body` with the 32 bytes, writable.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeMutableBytes(of: &words, body)
    }

    /// The bytes as an array (allocates; not for hot paths).
    public var array: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Overwrites the value with zeros in a way the optimiser cannot remove (`sodium_memzero`).
    public mutating func zeroize() {
        withUnsafeMutableBytes { sodium_memzero($0.baseAddress, 32) }
    }

    /// Constant-time: the comparison touches every byte whatever the contents.
    public static func == (lhs: Bytes32, rhs: Bytes32) -> Bool {
        let difference = (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1)
            | (lhs.words.2 ^ rhs.words.2) | (lhs.words.3 ^ rhs.words.3)
        return difference == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

extension Bytes32 {
    /// Parses 64 hexadecimal digits (either case); nil for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var value = Bytes32()
        let valid = value.withUnsafeMutableBytes { raw -> Bool in
            for index in 0..<32 {
                guard let high = Self.nibble(digits[2 * index]), let low = Self.nibble(digits[2 * index + 1]) else {
                    return false
                }
                raw[index] = high << 4 | low
            }
            return true
        }
        guard valid else { return nil }
        self = value
    }

    /// The 32 bytes as 64 lowercase hexadecimal digits (allocates; for logs, tests and tools).
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return withUnsafeBytes { raw in
            var text = [UInt8]()
            text.reserveCapacity(64)
            for byte in raw {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0f)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
