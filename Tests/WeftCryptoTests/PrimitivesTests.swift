import Testing
@testable import WeftCrypto

@Suite("Bytes32, SecretBytes, ConstantTime, SecureRandom")
struct PrimitivesTests {
    @Test("Bytes32 construction, access and equality")
    func bytes32() {
        let values = sequentialBytes(32)
        let value = Bytes32(values)!
        #expect(value.array == values)
        #expect(Bytes32(sequentialBytes(31)) == nil)
        #expect(Bytes32(sequentialBytes(33)) == nil)
        #expect(Bytes32() == .zero)
        #expect(value != .zero)
        let long = sequentialBytes(40)
        #expect(long.withUnsafeBytes { Bytes32(copying: $0) } == value)
        #expect(Bytes32(hex: value.hex) == value)
        #expect(Bytes32(hex: String(value.hex.dropLast())) == nil)
        #expect(Bytes32(hex: String(value.hex.dropLast()) + "g") == nil)
        #expect(Bytes32(hex: value.hex.uppercased()) == value)
        // Equality sees every byte.
        for index in 0..<32 {
            var changed = value
            changed.withUnsafeMutableBytes { $0[index] ^= 1 }
            #expect(changed != value)
        }
        var secret = value
        secret.zeroize()
        #expect(secret == .zero)
        #expect(Set([value, value, Bytes32.zero]).count == 2)
    }

    @Test("SecretBytes holds a copy and starts zeroed")
    func secretBytes() {
        let zeroed = SecretBytes(count: 24)
        #expect(zeroed.count == 24)
        zeroed.withUnsafeBytes { #expect($0.allSatisfy { $0 == 0 }) }
        var source = sequentialBytes(24)
        let copy = source.withUnsafeBytes { SecretBytes(copying: $0) }
        source[0] = 99
        copy.withUnsafeBytes { #expect(Array($0) == sequentialBytes(24)) }
        copy.withUnsafeMutableBytes { $0[1] = 7 }
        copy.withUnsafeBytes { #expect($0[1] == 7) }
        let empty = SecretBytes(count: 0)
        empty.withUnsafeBytes { #expect($0.isEmpty) }
    }

    @Test("ConstantTime.equal and isZero")
    func constantTime() {
        let a = sequentialBytes(16)
        var b = a
        func equal(_ x: [UInt8], _ y: [UInt8]) -> Bool {
            x.withUnsafeBytes { x in y.withUnsafeBytes { ConstantTime.equal(x, $0) } }
        }
        #expect(equal(a, b))
        b[15] ^= 1
        #expect(!equal(a, b))
        #expect(!equal(a, Array(a.dropLast())))
        #expect(equal([], []))
        #expect([UInt8](repeating: 0, count: 32).withUnsafeBytes { ConstantTime.isZero($0) })
        #expect(!([UInt8](repeating: 0, count: 31) + [1]).withUnsafeBytes { ConstantTime.isZero($0) })
        #expect([UInt8]().withUnsafeBytes { ConstantTime.isZero($0) })
    }

    @Test("SecureRandom fills, varies and respects bounds")
    func secureRandom() {
        var first = [UInt8](repeating: 0, count: 64)
        var second = first
        first.withUnsafeMutableBytes { SecureRandom.fill($0) }
        second.withUnsafeMutableBytes { SecureRandom.fill($0) }
        #expect(first != second)
        #expect(first != [UInt8](repeating: 0, count: 64))
        SecureRandom.fill(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        #expect(Set((0..<8).map { _ in SecureRandom.uint64() }).count > 1)
        #expect(Set((0..<8).map { _ in SecureRandom.uint32() }).count > 1)
        var seen = Set<UInt32>()
        for _ in 0..<500 {
            let value = SecureRandom.uniform(10)
            #expect(value < 10)
            seen.insert(value)
        }
        #expect(seen.count == 10)
        #expect(SecureRandom.uniform(0) == 0 && SecureRandom.uniform(1) == 0)
        var generator = SecureRandomNumberGenerator()
        #expect((1...6).contains(Int.random(in: 1...6, using: &generator)))
    }
}
