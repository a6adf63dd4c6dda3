import Testing
@testable import WeftRouting

/// Obviously-correct reference: one dictionary per prefix length; the longest match is found by
/// masking the address to each length from longest to shortest.
struct ReferenceTable {
    let width: Int
    var byLength: [[UInt128: Int]]

    init(width: Int) {
        self.width = width
        byLength = Array(repeating: [:], count: width + 1)
    }

    static func mask(_ key: UInt128, width: Int, length: Int) -> UInt128 {
        let topAligned = key << (128 - width)
        let masked = length == 0 ? 0 : topAligned & (UInt128.max << (128 - length))
        return masked >> (128 - width)
    }

    mutating func set(_ key: UInt128, _ length: Int, _ value: Int?) -> Int? {
        let masked = Self.mask(key, width: width, length: length)
        let previous = byLength[length][masked]
        byLength[length][masked] = value
        return previous
    }

    func exact(_ key: UInt128, _ length: Int) -> Int? {
        byLength[length][Self.mask(key, width: width, length: length)]
    }

    func longestMatch(_ key: UInt128) -> (length: Int, value: Int)? {
        for length in stride(from: width, through: 0, by: -1) {
            if let value = byLength[length][Self.mask(key, width: width, length: length)] {
                return (length, value)
            }
        }
        return nil
    }

    var count: Int { byLength.reduce(0) { $0 + $1.count } }

    var sortedEntries: [(key: UInt128, length: Int, value: Int)] {
        var entries: [(key: UInt128, length: Int, value: Int)] = []
        for (length, table) in byLength.enumerated() {
            for (key, value) in table { entries.append((key, length, value)) }
        }
        return entries.sorted { $0.key != $1.key ? $0.key < $1.key : $0.length < $1.length }
    }
}

/// Adapts one family of PrefixTable to 128-bit keys for the shared randomized check.
protocol FamilyAdapter {
    static var width: Int { get }
    static func prefix(_ key: UInt128, _ length: Int) -> IPPrefix
    static func address(_ key: UInt128) -> IPAddress
    static func key(_ prefix: IPPrefix) -> UInt128
    static func invariantViolation(_ table: PrefixTable<Int>) -> String?
}

enum IPv4Family: FamilyAdapter {
    static let width = 32
    static func prefix(_ key: UInt128, _ length: Int) -> IPPrefix {
        .v4(IPv4Prefix(address: IPv4Address(UInt32(truncatingIfNeeded: key)), length: length)!)
    }
    static func address(_ key: UInt128) -> IPAddress { .v4(IPv4Address(UInt32(truncatingIfNeeded: key))) }
    static func key(_ prefix: IPPrefix) -> UInt128 {
        guard case .v4(let prefix) = prefix else { return 0 }
        return UInt128(prefix.address.value)
    }
    static func invariantViolation(_ table: PrefixTable<Int>) -> String? { table.ipv4.core.invariantViolation() }
}

enum IPv6Family: FamilyAdapter {
    static let width = 128
    static func prefix(_ key: UInt128, _ length: Int) -> IPPrefix {
        .v6(IPv6Prefix(address: IPv6Address(bits: key), length: length)!)
    }
    static func address(_ key: UInt128) -> IPAddress { .v6(IPv6Address(bits: key)) }
    static func key(_ prefix: IPPrefix) -> UInt128 {
        guard case .v6(let prefix) = prefix else { return 0 }
        return prefix.address.bits
    }
    static func invariantViolation(_ table: PrefixTable<Int>) -> String? { table.ipv6.core.invariantViolation() }
}

@Suite struct PrefixTableTests {
    @Test func emptyTableMatchesNothing() {
        let table = PrefixTable<Int>()
        #expect(table.isEmpty && table.count == 0)
        #expect(table.lookup(ip("10.0.0.1")) == nil)
        #expect(table.longestMatch(ip("::1")) == nil)
        #expect(table[prefix("0.0.0.0/0")] == nil)
        #expect(table.entries.isEmpty)
    }

    @Test func longestPrefixWins() {
        var table = PrefixTable<String>()
        table[prefix("0.0.0.0/0")] = "default"
        table[prefix("10.0.0.0/8")] = "ten"
        table[prefix("10.1.0.0/16")] = "ten-one"
        table[prefix("10.1.2.3/32")] = "host"
        #expect(table.lookup(ip("192.0.2.1")) == "default")
        #expect(table.lookup(ip("10.200.0.1")) == "ten")
        #expect(table.lookup(ip("10.1.9.9")) == "ten-one")
        #expect(table.lookup(ip("10.1.2.3")) == "host")
        #expect(table.lookup(ip("10.1.2.4")) == "ten-one")
        #expect(table.longestMatch(ip("10.1.2.4"))?.prefix == prefix("10.1.0.0/16"))
        #expect(table.longestMatch(v4("10.1.2.3"))?.prefix == IPv4Prefix("10.1.2.3/32"))
        #expect(table.lookup(ip("::1")) == nil)

        table[prefix("10.1.0.0/16")] = nil
        #expect(table.lookup(ip("10.1.9.9")) == "ten")
        #expect(table.lookup(ip("10.1.2.3")) == "host")
        #expect(table.count == 3)
    }

    @Test func exactAccessCanonicalisesKeys() {
        var table = PrefixTable<Int>()
        #expect(table.updateValue(1, forPrefix: prefix("10.1.2.3/8")) == nil)
        #expect(table[prefix("10.0.0.0/8")] == 1)
        #expect(table.updateValue(2, forPrefix: prefix("10.9.9.9/8")) == 1)
        #expect(table.count == 1)
        #expect(table.entries.map(\.prefix) == [prefix("10.0.0.0/8")])
        #expect(table[prefix("10.0.0.0/9")] == nil)
        #expect(table[prefix("10.0.0.0/7")] == nil)
        #expect(table.removeValue(forPrefix: prefix("10.0.0.0/16")) == nil)
        #expect(table.removeValue(forPrefix: prefix("10.5.0.0/8")) == 2)
        #expect(table.isEmpty)
    }

    @Test func familiesAreSeparate() {
        var table = PrefixTable<String>()
        table[prefix("0.0.0.0/0")] = "v4"
        #expect(table.lookup(ip("::ffff:10.0.0.1")) == nil)
        #expect(table.lookup(ip("::")) == nil)
        table[prefix("::ffff:0:0/96")] = "mapped"
        table[prefix("::/0")] = "v6"
        #expect(table.lookup(ip("10.0.0.1")) == "v4")
        #expect(table.lookup(ip("::ffff:10.0.0.1")) == "mapped")
        #expect(table.lookup(ip("::1")) == "v6")
        #expect(table.entries.map(\.prefix.description) == ["0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"])
    }

    @Test func hostRoutesAtFullWidth() {
        var table = PrefixTable<Int>()
        table[prefix("255.255.255.255/32")] = 1
        table[prefix("0.0.0.0/32")] = 2
        table[prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")] = 3
        table[prefix("::/128")] = 4
        #expect(table.lookup(ip("255.255.255.255")) == 1)
        #expect(table.lookup(ip("0.0.0.0")) == 2)
        #expect(table.lookup(ip("255.255.255.254")) == nil)
        #expect(table.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) == 3)
        #expect(table.lookup(ip("::")) == 4)
        #expect(table.lookup(ip("::1")) == nil)
    }

    @Test func copiesAreIndependent() {
        var original = PrefixTable<Int>()
        original[prefix("10.0.0.0/8")] = 1
        var copy = original
        copy[prefix("10.0.0.0/8")] = 2
        copy[prefix("10.1.0.0/16")] = 3
        #expect(original.lookup(ip("10.1.0.1")) == 1)
        #expect(copy.lookup(ip("10.1.0.1")) == 3)
    }

    @Test func removeAllWhere() {
        var table = PrefixTable<Int>()
        for index in 0..<64 {
            table[.v4(IPv4Prefix(address: IPv4Address(UInt32(index) << 24), length: 8)!)] = index
        }
        table.removeAll { _, value in value % 2 == 1 }
        #expect(table.count == 32)
        #expect(table.entries.allSatisfy { $0.value % 2 == 0 })
        #expect(table.ipv4.core.invariantViolation() == nil)
        table.removeAll()
        #expect(table.isEmpty && table.lookup(ip("2.0.0.1")) == nil)
    }

    @Test func recyclesNodesAfterRemoval() {
        var table = PrefixTable<Int>()
        var generator = SeededGenerator(seed: 7)
        let prefixes = (0..<500).map { _ in
            IPv4Prefix(address: IPv4Address(UInt32.random(in: .min ... .max, using: &generator)),
                       length: Int.random(in: 8...32, using: &generator))!.canonical
        }
        for (index, prefix) in prefixes.enumerated() { table[prefix] = index }
        let nodes = table.ipv4.nodeCount
        for prefix in prefixes { table[prefix] = nil }
        #expect(table.isEmpty)
        #expect(table.ipv4.core.root == -1)
        #expect(table.ipv4.core.invariantViolation() == nil)
        for (index, prefix) in prefixes.enumerated() { table[prefix] = index }
        #expect(table.ipv4.nodeCount == nodes)
        #expect(table.ipv4.core.invariantViolation() == nil)
    }

    @Test func randomizedIPv4AgainstReference() {
        checkAgainstReference(IPv4Family.self, seed: 0x5EED_0004, prefixCount: 3000)
    }

    @Test func randomizedIPv6AgainstReference() {
        checkAgainstReference(IPv6Family.self, seed: 0x5EED_0006, prefixCount: 3000)
    }

    /// Random inserts, overwrites, removals and re-inserts, checking exact lookups, longest
    /// matches, enumeration order and the trie's structural invariants after each phase.
    func checkAgainstReference<Family: FamilyAdapter>(_: Family.Type, seed: UInt64, prefixCount: Int) {
        var generator = SeededGenerator(seed: seed)
        let width = Family.width
        let widthMask: UInt128 = width == 128 ? .max : (UInt128(1) << width) - 1
        func randomKey() -> UInt128 {
            UInt128(generator.next()) << 64 | UInt128(generator.next())
        }
        // A few bases, with prefixes sharing a random number of their leading bits, so that
        // prefixes nest and diverge at every depth.
        let bases = (0..<6).map { _ in randomKey() & widthMask }
        func clusteredKey() -> UInt128 {
            let base = bases[Int.random(in: 0..<bases.count, using: &generator)]
            let shared = Int.random(in: 0...width, using: &generator)
            let noise = shared == width ? 0 : (randomKey() & widthMask) >> shared
            return base ^ noise
        }
        func randomLength() -> Int {
            // Mostly realistic lengths, with the extremes well represented.
            switch Int.random(in: 0..<10, using: &generator) {
            case 0: return [0, 1, width - 1, width][Int.random(in: 0..<4, using: &generator)]
            default: return Int.random(in: 0...width, using: &generator)
            }
        }

        var table = PrefixTable<Int>()
        var reference = ReferenceTable(width: width)
        var inserted: [(key: UInt128, length: Int)] = []

        func verify(_ phase: String) {
            #expect(table.count == reference.count, "\(phase): count")
            #expect(Family.invariantViolation(table) == nil, "\(phase): invariants")
            for (key, length) in inserted {
                let expected = reference.exact(key, length)
                #expect(table[Family.prefix(key, length)] == expected, "\(phase): exact")
            }
            for round in 0..<4000 {
                let key: UInt128
                switch round % 4 {
                case 0 where !inserted.isEmpty:
                    // Inside an inserted prefix, host bits random.
                    let (base, length) = inserted[Int.random(in: 0..<inserted.count, using: &generator)]
                    let host = length == width ? 0 : (randomKey() & widthMask) >> length
                    key = ReferenceTable.mask(base, width: width, length: length) | host
                case 1: key = randomKey() & widthMask
                default: key = clusteredKey()
                }
                let expected = reference.longestMatch(key)
                let actual = table.longestMatch(Family.address(key))
                #expect(actual?.value == expected?.value, "\(phase): value for \(Family.address(key))")
                #expect(actual.map { Int($0.prefix.length) } == expected?.length, "\(phase): length")
                if let actual, let expected {
                    #expect(actual.prefix == Family.prefix(key, expected.length).canonical)
                }
                #expect(table.lookup(Family.address(key)) == expected?.value)
            }
            let entries = table.entries
            let expectedEntries = reference.sortedEntries
            #expect(entries.count == expectedEntries.count, "\(phase): entries")
            for (entry, expected) in zip(entries, expectedEntries) {
                #expect(entry.prefix == Family.prefix(expected.key, expected.length), "\(phase): order")
                #expect(entry.value == expected.value)
            }
        }

        for value in 0..<prefixCount {
            let key = clusteredKey()
            let length = randomLength()
            inserted.append((key, length))
            let expected = reference.set(key, length, value)
            #expect(table.updateValue(value, forPrefix: Family.prefix(key, length)) == expected)
        }
        verify("after insert")

        inserted.shuffle(using: &generator)
        for (key, length) in inserted.prefix(inserted.count / 2) {
            let expected = reference.set(key, length, nil)
            #expect(table.removeValue(forPrefix: Family.prefix(key, length)) == expected)
        }
        // Removing prefixes that were never inserted changes nothing.
        for _ in 0..<200 {
            let key = clusteredKey()
            let length = randomLength()
            if reference.exact(key, length) == nil {
                #expect(table.removeValue(forPrefix: Family.prefix(key, length)) == nil)
            }
        }
        verify("after removal")

        for value in prefixCount..<(prefixCount + prefixCount / 2) {
            let (key, length) = Bool.random(using: &generator)
                ? inserted[Int.random(in: 0..<inserted.count, using: &generator)]
                : (clusteredKey(), randomLength())
            inserted.append((key, length))  // duplicates are harmless to the checks
            let expected = reference.set(key, length, value)
            #expect(table.updateValue(value, forPrefix: Family.prefix(key, length)) == expected)
        }
        verify("after re-insert")

        for (key, length) in inserted {
            _ = reference.set(key, length, nil)
            table.removeValue(forPrefix: Family.prefix(key, length))
        }
        #expect(table.isEmpty)
        #expect(Family.invariantViolation(table) == nil)
    }
}
