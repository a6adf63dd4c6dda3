import Glibc
import Testing
@testable import WeftDataPlane

@Suite("Endpoint")
struct IOEndpointTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let text: String
        let address: Endpoint.Address
        let port: UInt16
        /// What `wg show` would print back (RFC 5952 / inet_ntop form).
        let formatted: String
        var testDescription: String { text }
    }

    static let valid: [Case] = [
        Case(text: "198.18.0.1:51820", address: .ipv4(198, 18, 0, 1), port: 51820, formatted: "198.18.0.1:51820"),
        Case(text: "0.0.0.0:0", address: .ipv4(0), port: 0, formatted: "0.0.0.0:0"),
        Case(text: "255.255.255.255:65535", address: .ipv4(0xFFFF_FFFF), port: 65535, formatted: "255.255.255.255:65535"),
        Case(text: "100.64.0.1:1", address: .ipv4(100, 64, 0, 1), port: 1, formatted: "100.64.0.1:1"),
        Case(text: "[fd00::1]:51820", address: .ipv6(high: 0xFD00_0000_0000_0000, low: 1, scopeID: 0), port: 51820,
             formatted: "[fd00::1]:51820"),
        Case(text: "[::1]:1", address: .ipv6(high: 0, low: 1, scopeID: 0), port: 1, formatted: "[::1]:1"),
        Case(text: "[::]:0", address: .ipv6(high: 0, low: 0, scopeID: 0), port: 0, formatted: "[::]:0"),
        Case(text: "[2001:DB8::A]:80", address: .ipv6(high: 0x2001_0DB8_0000_0000, low: 0xA, scopeID: 0), port: 80,
             formatted: "[2001:db8::a]:80"),
        Case(text: "[2001:0db8:0000:0000:0000:0000:0000:0001]:7",
             address: .ipv6(high: 0x2001_0DB8_0000_0000, low: 1, scopeID: 0), port: 7, formatted: "[2001:db8::1]:7"),
        // Two equal zero runs: the first is compressed (RFC 5952 §4.2.3).
        Case(text: "[2001:db8:0:0:1:0:0:1]:5", address: .ipv6(high: 0x2001_0DB8_0000_0000, low: 0x0001_0000_0000_0001, scopeID: 0),
             port: 5, formatted: "[2001:db8::1:0:0:1]:5"),
        // The longer run wins even when it comes second.
        Case(text: "[1:0:0:1:0:0:0:1]:5", address: .ipv6(high: 0x0001_0000_0000_0001, low: 1, scopeID: 0), port: 5,
             formatted: "[1:0:0:1::1]:5"),
        // A single zero group is not compressed (RFC 5952 §4.2.2).
        Case(text: "[1:2:3:4:5:6:0:8]:9", address: .ipv6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0000_0008, scopeID: 0),
             port: 9, formatted: "[1:2:3:4:5:6:0:8]:9"),
        Case(text: "[1::]:2", address: .ipv6(high: 0x0001_0000_0000_0000, low: 0, scopeID: 0), port: 2, formatted: "[1::]:2"),
        Case(text: "[1:2:3:4:5:6:7::]:2", address: .ipv6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0000, scopeID: 0),
             port: 2, formatted: "[1:2:3:4:5:6:7:0]:2"),
        // IPv4-mapped and -compatible forms keep the dotted quad, as inet_ntop prints them.
        Case(text: "[::ffff:198.18.0.1]:9", address: .ipv6(high: 0, low: 0xFFFF_C612_0001, scopeID: 0), port: 9,
             formatted: "[::ffff:198.18.0.1]:9"),
        Case(text: "[::198.18.0.1]:9", address: .ipv6(high: 0, low: 0xC612_0001, scopeID: 0), port: 9,
             formatted: "[::198.18.0.1]:9"),
        Case(text: "[64:ff9b::198.18.0.1]:9", address: .ipv6(high: 0x0064_FF9B_0000_0000, low: 0xC612_0001, scopeID: 0),
             port: 9, formatted: "[64:ff9b::c612:1]:9"),
        // Interface 1 is `lo` in every namespace.
        Case(text: "[fe80::1%1]:3", address: .ipv6(high: 0xFE80_0000_0000_0000, low: 1, scopeID: 1), port: 3,
             formatted: "[fe80::1%lo]:3"),
        Case(text: "[fe80::1%lo]:3", address: .ipv6(high: 0xFE80_0000_0000_0000, low: 1, scopeID: 1), port: 3,
             formatted: "[fe80::1%lo]:3"),
        // Zones on global addresses are printed as numbers, like getnameinfo does.
        Case(text: "[fd00::1%1]:3", address: .ipv6(high: 0xFD00_0000_0000_0000, low: 1, scopeID: 1), port: 3,
             formatted: "[fd00::1%1]:3"),
    ]

    @Test(arguments: valid)
    func parsesAndFormats(_ test: Case) throws {
        let endpoint = try #require(Endpoint(test.text))
        #expect(endpoint.address == test.address)
        #expect(endpoint.port == test.port)
        #expect(endpoint.description == test.formatted)
        #expect(Endpoint(test.formatted) == endpoint)
    }

    static let invalid = [
        "", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:65536", "1.2.3.4:123456", "1.2.3:80", "1.2.3.4.5:80",
        "01.2.3.4:80", "256.1.1.1:1", "1.2.3.-4:1", "1..3.4:1", "1.2.3.4:+1", "1.2.3.4:0x10", "1.2.3.4: 1",
        " 1.2.3.4:1", "host.example:51820", "fd00::1:80", "[fd00::1:80", "[fd00::1]80", "[fd00::1]:",
        "fd00::1]:80", "[]:1", "[1:2:3:4:5:6:7:8:9]:1", "[1:2:3:4:5:6:7:8::]:1", "[1:::2]:1", "[:1]:1",
        "[1:]:1", "[12345::]:1", "[g::]:1", "[1.2.3.4]:1", "[::1.2.3]:1", "[::1.2.3.4.5]:1",
        "[1:2:3:4:5:6:7:1.2.3.4]:1", "[::1.2.3.4:5]:1", "[fe80::1%]:1", "[fe80::1%nosuchif0]:1",
        "[fe80::1%99999999999]:1", "[::1]:1:1",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(Endpoint(text) == nil)
    }

    @Test func addressParsingMatchesInetPton() {
        // Address text alone, against glibc's inet_pton as the reference.
        let samples = ["1.2.3.4", "::", "::1", "1::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "fe80::1:2",
                       "1:2:3:4:5:6:1.2.3.4", "a:b::c:d", "::1.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "00000::",
                       "1.2.3.04", "1.2.3", ":::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "::0:2:3:4:5:6:7:8"]
        for text in samples {
            #expect(Endpoint.Address(text) == Self.referenceParse(text), "\(text)")
        }
    }

    /// glibc's inet_pton as the reference parser.
    static func referenceParse(_ text: String) -> Endpoint.Address? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return .ipv4(UInt32(bigEndian: v4.s_addr)) }
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Endpoint.Address.ipv6(bytes: $0) } }
        return nil
    }

    @Test func parsingMatchesInetPtonOnRandomText() {
        // Strings over the characters addresses are made of, weighted so that valid and
        // nearly-valid forms are common; any disagreement with inet_pton is a bug.
        let alphabet = Array("0123456789abcdefABCDEFg:.:.::")
        var generator = SystemRandomNumberGenerator()
        var valid = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            let reference = Self.referenceParse(text)
            if reference != nil { valid += 1 }
            #expect(Endpoint.Address(text) == reference, "\(text)")
        }
        // Random mutations of valid addresses reach the interesting edges more often.
        let seeds = ["198.18.0.1", "::ffff:100.64.0.1", "fd00::1", "2001:db8:0:1:2:3:4:5", "::", "1::1.2.3.4"]
        for _ in 0..<20_000 {
            var characters = Array(seeds.randomElement(using: &generator)!)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0...characters.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: characters.insert(alphabet.randomElement(using: &generator)!, at: position)
                case 1 where position < characters.count: characters.remove(at: position)
                default: if position < characters.count { characters[position] = alphabet.randomElement(using: &generator)! }
                }
            }
            let text = String(characters)
            #expect(Endpoint.Address(text) == Self.referenceParse(text), "\(text)")
        }
        #expect(valid > 0)
    }

    @Test func formattingMatchesInetNtopOnRandomAddresses() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            // Mostly-zero words so that runs of zeros of every length and position occur.
            var words = [UInt16](repeating: 0, count: 8)
            for i in 0..<8 where Int.random(in: 0..<3, using: &generator) == 0 {
                words[i] = Bool.random(using: &generator) ? 1 : UInt16.random(in: 0...UInt16.max, using: &generator)
            }
            if Int.random(in: 0..<10, using: &generator) == 0 { words[0...4] = [0, 0, 0, 0, 0]; words[5] = 0xFFFF }
            var high: UInt64 = 0, low: UInt64 = 0
            for i in 0..<4 { high = high << 16 | UInt64(words[i]) }
            for i in 4..<8 { low = low << 16 | UInt64(words[i]) }
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { bytes in
                bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET6, &raw, &text, 64)
            let reference = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let address = Endpoint.Address.ipv6(high: high, low: low, scopeID: 0)
            #expect(address.description == reference)
            #expect(Endpoint.Address(reference) == address)
        }
    }

    @Test func mappedAddresses() {
        let mapped = Endpoint.Address.ipv6(high: 0, low: 0xFFFF_C612_0001, scopeID: 0)
        #expect(mapped.isIPv4Mapped)
        #expect(mapped.unmapped == .ipv4(198, 18, 0, 1))
        #expect(!Endpoint.Address.ipv6(high: 0, low: 0xC612_0001, scopeID: 0).isIPv4Mapped)
        #expect(Endpoint.Address.ipv4(1, 2, 3, 4).unmapped == .ipv4(1, 2, 3, 4))
    }

    @Test func socketAddressRoundTrip() {
        var storage = sockaddr_in6()
        withUnsafeMutableBytes(of: &storage) { raw in
            let base = raw.baseAddress!
            // IPv4 through a dual-stack socket: mapped on the wire, IPv4 again when decoded.
            let v4 = Endpoint("198.18.0.1:51820")!
            #expect(v4.encode(into: base, ipv6Socket: true) == MemoryLayout<sockaddr_in6>.size)
            let sin6 = base.load(as: sockaddr_in6.self)
            #expect(Int32(sin6.sin6_family) == AF_INET6)
            #expect(UInt16(bigEndian: sin6.sin6_port) == 51820)
            #expect(Endpoint(socketAddress: base, length: raw.count) == v4)

            let v6 = Endpoint("[fe80::1%1]:7")!
            #expect(v6.encode(into: base, ipv6Socket: true) == MemoryLayout<sockaddr_in6>.size)
            #expect(base.load(as: sockaddr_in6.self).sin6_scope_id == 1)
            #expect(Endpoint(socketAddress: base, length: raw.count) == v6)

            #expect(v4.encode(into: base, ipv6Socket: false) == MemoryLayout<sockaddr_in>.size)
            let sin = base.load(as: sockaddr_in.self)
            #expect(Int32(sin.sin_family) == AF_INET)
            #expect(UInt32(bigEndian: sin.sin_addr.s_addr) == 0xC612_0001)
            #expect(Endpoint(socketAddress: base, length: MemoryLayout<sockaddr_in>.size) == v4)

            // IPv6 cannot go through an IPv4 socket.
            #expect(v6.encode(into: base, ipv6Socket: false) == 0)
            // Short or unknown addresses decode to nil.
            #expect(Endpoint(socketAddress: base, length: 1) == nil)
            _ = v6.encode(into: base, ipv6Socket: true)
            #expect(Endpoint(socketAddress: base, length: 20) == nil)
            base.storeBytes(of: sa_family_t(AF_UNIX), as: sa_family_t.self)
            #expect(Endpoint(socketAddress: base, length: raw.count) == nil)
        }
    }
}
