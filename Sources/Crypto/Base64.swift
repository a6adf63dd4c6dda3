/// Standard base64 (RFC 4648 §4, alphabet `A–Z a–z 0–9 + /`, `=` padding) as WireGuard uses it
/// for keys: a 32-byte key is exactly 44 characters, the last being one `=`.
///
/// Decoding is strict in the same way as wireguard-tools' `key_from_base64`: no whitespace,
/// no missing or extra padding, no URL-safe alphabet, and the unused low bits of the final
/// character must be zero (so each key has exactly one accepted spelling). Foundation's decoder
/// is deliberately not used: it tolerates some of these.
///
/// Keys are secret, so characters are mapped without branches or table lookups indexed by
/// secret data; only lengths and the position of the padding (public) steer control flow.
enum Base64 {
    /// Decodes a WireGuard key: `.invalidBase64` for text that is not strict padded base64,
    /// `.invalidKeyLength` for valid base64 of anything but 32 bytes.
    static func decodeKey(_ text: String) throws(CryptoError) -> Bytes32 {
        var text = text
        var key = Bytes32()
        let decodedCount = text.withUTF8 { utf8 in
            key.withUnsafeMutableBytes { decode(utf8, into: $0) }
        }
        guard let decodedCount else { throw .invalidBase64 }
        guard decodedCount == 32 else {
            key.zeroize()
            throw .invalidKeyLength(decodedCount)
        }
        return key
    }

    /// Decodes `text`, writing the bytes to `output` if they fit there.
    /// Returns the decoded length, or nil if `text` is not strict padded base64.
    static func decode(_ text: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableRawBufferPointer) -> Int? {
        let length = text.count
        guard length % 4 == 0 else { return nil }
        var padding = 0
        if length >= 4, text[length - 1] == UInt8(ascii: "=") {
            padding = text[length - 2] == UInt8(ascii: "=") ? 2 : 1
        }
        let groups = length / 4
        let decodedCount = groups * 3 - padding
        let writing = decodedCount <= output.count

        var bad: UInt32 = 0
        for group in 0..<groups {
            let at = group * 4
            let isLast = group == groups - 1
            let s0 = sextet(text[at])
            let s1 = sextet(text[at + 1])
            // Padding characters stand for zero bits; they are only allowed in the last group.
            let s2 = isLast && padding == 2 ? 0 : sextet(text[at + 2])
            let s3 = isLast && padding >= 1 ? 0 : sextet(text[at + 3])
            let value = UInt32(bitPattern: s0 << 18 | s1 << 12 | s2 << 6 | s3)
            bad |= value >> 31  // a -1 (invalid character) anywhere makes the whole value negative
            let byteCount = isLast ? 3 - padding : 3
            if isLast {
                // Bits below the last encoded byte must be zero: rejects non-canonical spellings.
                bad |= padding == 2 ? value & 0xffff : padding == 1 ? value & 0xff : 0
            }
            if writing {
                let out = group * 3
                output[out] = UInt8(truncatingIfNeeded: value >> 16)
                if byteCount > 1 { output[out + 1] = UInt8(truncatingIfNeeded: value >> 8) }
                if byteCount > 2 { output[out + 2] = UInt8(truncatingIfNeeded: value) }
            }
        }
        return bad == 0 ? decodedCount : nil
    }

    /// Encodes `bytes` as padded standard base64.
    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = bytes.count
        let encodedCount = (count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: encodedCount) { text in
            var input = 0
            var output = 0
            while input < count {
                let remaining = count - input
                let b0 = UInt32(bytes[input])
                let b1 = remaining > 1 ? UInt32(bytes[input + 1]) : 0
                let b2 = remaining > 2 ? UInt32(bytes[input + 2]) : 0
                let value = b0 << 16 | b1 << 8 | b2
                text[output] = character(value >> 18)
                text[output + 1] = character(value >> 12 & 0x3f)
                text[output + 2] = remaining > 1 ? character(value >> 6 & 0x3f) : UInt8(ascii: "=")
                text[output + 3] = remaining > 2 ? character(value & 0x3f) : UInt8(ascii: "=")
                input += 3
                output += 4
            }
            return encodedCount
        }
    }

    /// The 6-bit value of a base64 character, or -1. Branch-free: each range contributes
    /// (value + 1) through a mask that is all ones only when the character is in that range.
    @inline(__always)
    private static func sextet(_ byte: UInt8) -> Int32 {
        let c = Int32(byte)
        var value: Int32 = -1
        value += inRange(c, 0x41, 0x5a) & (c - 0x41 + 1)       // 'A'...'Z' -> 0...25
        value += inRange(c, 0x61, 0x7a) & (c - 0x61 + 26 + 1)  // 'a'...'z' -> 26...51
        value += inRange(c, 0x30, 0x39) & (c - 0x30 + 52 + 1)  // '0'...'9' -> 52...61
        value += inRange(c, 0x2b, 0x2b) & (62 + 1)             // '+'
        value += inRange(c, 0x2f, 0x2f) & (63 + 1)             // '/'
        return value
    }

    /// All ones when `low <= c <= high`, else zero. Both differences are negative exactly when
    /// `c` is inside, and `c < 256` keeps them within nine bits, so the arithmetic shift
    /// yields -1 or 0.
    @inline(__always)
    private static func inRange(_ c: Int32, _ low: Int32, _ high: Int32) -> Int32 {
        ((low - 1 - c) & (c - high - 1)) >> 8
    }

    /// The base64 character for a 6-bit value, branch-free: start from 'A' and add the gap to
    /// the next range for each range boundary the value has passed.
    @inline(__always)
    private static func character(_ sixBits: UInt32) -> UInt8 {
        let v = Int32(bitPattern: sixBits)
        var c = v + 0x41                  // 0...25  -> 'A'...'Z'
        c += ((25 - v) >> 8) & 6          // 26...51 -> 'a'...'z'  (0x61 - 26 - 0x41)
        c -= ((51 - v) >> 8) & 75         // 52...61 -> '0'...'9'  (0x30 - 52 vs 0x61 - 26)
        c -= ((61 - v) >> 8) & 15         // 62      -> '+'
        c += ((62 - v) >> 8) & 3          // 63      -> '/'
        return UInt8(truncatingIfNeeded: c)
    }
}
