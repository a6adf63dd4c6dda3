import Testing
@testable import WeftCrypto

@Suite("TAI64N timestamps")
struct TAI64NTests {
    @Test("External format: 2^62 + seconds, then nanoseconds, big-endian",
          arguments: [
            (Int64(0), UInt32(0), "400000000000000000000000"),
            (1_700_000_000, 123_456_789, "400000006553f100075bcd15"),
            (-1, 999_999_999, "3fffffffffffffff3b9ac9ff"),
          ])
    func encoding(seconds: Int64, nanoseconds: UInt32, expected: String) {
        let stamp = TAI64N(unixSeconds: seconds, nanoseconds: nanoseconds)
        var output = [UInt8](repeating: 0xee, count: 14)
        output.withUnsafeMutableBytes { stamp.write(to: $0) }
        #expect(hex(output[..<12]) == expected)
        #expect(output[12...].allSatisfy { $0 == 0xee })
        let parsed = output.withUnsafeBytes { TAI64N(bytes: $0) }
        #expect(parsed == stamp)
        #expect(parsed?.unixSeconds == seconds)
        #expect(parsed?.nanoseconds == nanoseconds)
    }

    @Test("Fewer than 12 bytes do not parse")
    func short() {
        for length in 0..<12 {
            let input = [UInt8](repeating: 0x40, count: length)
            #expect(input.withUnsafeBytes { TAI64N(bytes: $0) } == nil)
        }
    }

    @Test("Ordering agrees with comparing the 12 encoded bytes, for any bytes (WireGuard's replay check)")
    func orderingMatchesBytes() {
        var generator = SplitMix64(seed: 64)
        for _ in 0..<2000 {
            // Mostly near-equal values so ties in the label are exercised, plus arbitrary bytes.
            var a = generator.bytes(12)
            var b = generator.bytes(12)
            if Bool.random(using: &generator) { b.replaceSubrange(0..<8, with: a[0..<8]) }
            if Bool.random(using: &generator) { a[11] = b[11] }
            let x = a.withUnsafeBytes { TAI64N(bytes: $0)! }
            let y = b.withUnsafeBytes { TAI64N(bytes: $0)! }
            #expect((x < y) == a.lexicographicallyPrecedes(b))
            #expect((x == y) == (a == b))
            var reencoded = [UInt8](repeating: 0, count: 12)
            reencoded.withUnsafeMutableBytes { x.write(to: $0) }
            #expect(reencoded == a)
        }
    }

    @Test("Later times compare greater")
    func chronological() {
        let times = [TAI64N(unixSeconds: -5, nanoseconds: 0), TAI64N(unixSeconds: 0, nanoseconds: 0),
                     TAI64N(unixSeconds: 0, nanoseconds: 1), TAI64N(unixSeconds: 1, nanoseconds: 0),
                     TAI64N(unixSeconds: 1_700_000_000, nanoseconds: 999_999_999)]
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(earlier < later)
        }
    }
}
