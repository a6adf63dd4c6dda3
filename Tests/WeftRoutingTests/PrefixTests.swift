import Testing
@testable import WeftRouting

@Suite struct PrefixTests {
    @Test func parsesAndFormats() {
        // text, description, length, canonical?
        let cases: [(String, String, UInt8, Bool)] = [
            ("100.64.0.0/10", "100.64.0.0/10", 10, true),
            ("fd00::/8", "fd00::/8", 8, true),
            ("10.0.0.1", "10.0.0.1/32", 32, true),
            ("::1", "::1/128", 128, true),
            ("0.0.0.0/0", "0.0.0.0/0", 0, true),
            ("::/0", "::/0", 0, true),
            ("10.1.2.3/8", "10.1.2.3/8", 8, false),
            ("2001:DB8::1/32", "2001:db8::1/32", 32, false),
            ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", 104, true),
            ("192.0.2.255/31", "192.0.2.255/31", 31, false),
            ("fe80::/64", "fe80::/64", 64, true),
        ]
        for (text, description, length, canonical) in cases {
            guard let parsed = IPPrefix(text) else {
                Issue.record("\(text) did not parse")
                continue
            }
            #expect(parsed.description == description, "\(text)")
            #expect(parsed.length == length, "\(text)")
            #expect(parsed.isCanonical == canonical, "\(text)")
            #expect(IPPrefix(parsed.description) == parsed, "\(text) round trip")
        }
    }

    @Test func canonicalisesHostBits() {
        #expect(prefix("10.1.2.3/8").canonical == prefix("10.0.0.0/8"))
        #expect(prefix("2001:db8:ffff::1/32").canonical == prefix("2001:db8::/32"))
        #expect(prefix("1.2.3.4/0").canonical == prefix("0.0.0.0/0"))
        #expect(prefix("1.2.3.4/32").canonical == prefix("1.2.3.4/32"))
        #expect(prefix("::1/127").canonical == prefix("::/127"))
        #expect(IPv4Prefix("10.0.0.0/24")!.netmask == v4("255.255.255.0"))
        #expect(IPv4Prefix("10.0.0.0/0")!.netmask == v4("0.0.0.0"))
        #expect(IPv4Prefix("10.0.0.0/32")!.netmask == v4("255.255.255.255"))
    }

    @Test func rejectsWithNamedErrors() {
        let cases: [(String, PrefixParseError)] = [
            ("1.2.3.4/33", .lengthOutOfRange("1.2.3.4/33", maximum: 32)),
            ("1.2.3", .invalidAddress("1.2.3")),
            ("::1::", .invalidAddress("::1::")),
            ("fd00::/129", .lengthOutOfRange("fd00::/129", maximum: 128)),
            ("10.0.0.0/", .invalidLength("10.0.0.0/")),
            ("10.0.0.0/-1", .invalidLength("10.0.0.0/-1")),
            ("10.0.0.0/+8", .invalidLength("10.0.0.0/+8")),
            ("10.0.0.0/08", .invalidLength("10.0.0.0/08")),
            ("10.0.0.0/ 8", .invalidLength("10.0.0.0/ 8")),
            ("10.0.0.0/8 ", .invalidLength("10.0.0.0/8 ")),
            ("10.0.0.0/8/8", .invalidLength("10.0.0.0/8/8")),
            ("10.0.0.0/0x8", .invalidLength("10.0.0.0/0x8")),
            ("/8", .invalidAddress("/8")),
            ("", .invalidAddress("")),
            ("10.0.0.0 /8", .invalidAddress("10.0.0.0 /8")),
            ("fe80::1%eth0/64", .invalidAddress("fe80::1%eth0/64")),
            ("10.0.0.0/1000", .lengthOutOfRange("10.0.0.0/1000", maximum: 32)),
            ("::/99999999999999999999999", .lengthOutOfRange("::/99999999999999999999999", maximum: 128)),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text)") { try IPPrefix(parsing: text) }
            #expect(IPPrefix(text) == nil)
            #expect(expected.description.contains("\"\(text)\""))
        }
    }

    @Test func familySpecificParsersRejectTheOtherFamily() {
        #expect(throws: PrefixParseError.wrongFamily("fd00::/8", expected: .ipv4)) {
            try IPv4Prefix(parsing: "fd00::/8")
        }
        #expect(throws: PrefixParseError.wrongFamily("10.0.0.0/8", expected: .ipv6)) {
            try IPv6Prefix(parsing: "10.0.0.0/8")
        }
        #expect(throws: PrefixParseError.lengthOutOfRange("10.0.0.0/33", maximum: 32)) {
            try IPv4Prefix(parsing: "10.0.0.0/33")
        }
        #expect(IPv4Prefix("192.0.2.0/24")?.length == 24)
        #expect(IPv6Prefix("2001:db8::/48")?.length == 48)
        #expect(PrefixParseError.wrongFamily("x", expected: .ipv6).description.contains("IPv6"))
    }

    @Test func validatesLengthOnConstruction() {
        #expect(IPv4Prefix(address: v4("10.0.0.0"), length: 33) == nil)
        #expect(IPv4Prefix(address: v4("10.0.0.0"), length: -1) == nil)
        #expect(IPv6Prefix(address: v6("::"), length: 129) == nil)
        #expect(IPPrefix(address: ip("::"), length: 128) == prefix("::/128"))
        #expect(IPPrefix(address: ip("1.2.3.4"), length: 64) == nil)
        #expect(IPPrefix(host: ip("fd00::1")) == prefix("fd00::1/128"))
    }

    @Test func containsAddresses() {
        let cases: [(String, String, Bool)] = [
            ("100.64.0.0/10", "100.64.0.0", true),
            ("100.64.0.0/10", "100.127.255.255", true),
            ("100.64.0.0/10", "100.128.0.0", false),
            ("100.64.0.0/10", "100.63.255.255", false),
            ("0.0.0.0/0", "255.255.255.255", true),
            ("10.0.0.1/32", "10.0.0.1", true),
            ("10.0.0.1/32", "10.0.0.0", false),
            ("10.1.2.3/8", "10.200.0.1", true),    // host bits of the prefix are ignored
            ("fd00::/8", "fdff:ffff::1", true),
            ("fd00::/8", "fe00::", false),
            ("::/0", "ffff::1", true),
            ("::1/128", "::1", true),
            ("::1/128", "::", false),
            ("2001:db8::/127", "2001:db8::1", true),
            ("2001:db8::/127", "2001:db8::2", false),
            ("10.0.0.0/8", "::ffff:10.0.0.1", false), // v4-mapped is not IPv4
            ("::ffff:0:0/96", "10.0.0.1", false),
            ("::/0", "10.0.0.1", false),
            ("0.0.0.0/0", "::", false),
        ]
        for (prefixText, addressText, expected) in cases {
            #expect(prefix(prefixText).contains(ip(addressText)) == expected, "\(prefixText) ∋ \(addressText)")
        }
    }

    @Test func containsPrefixes() {
        #expect(prefix("10.0.0.0/8").contains(prefix("10.1.0.0/16")))
        #expect(prefix("10.0.0.0/8").contains(prefix("10.0.0.0/8")))
        #expect(!prefix("10.1.0.0/16").contains(prefix("10.0.0.0/8")))
        #expect(!prefix("10.0.0.0/8").contains(prefix("11.0.0.0/16")))
        #expect(prefix("::/0").contains(prefix("fd00::/8")))
        #expect(!prefix("::/0").contains(prefix("0.0.0.0/0")))
    }

    @Test func ordersByAddressThenLength() {
        let texts = ["fd00::/8", "10.0.0.0/24", "::/0", "10.0.0.0/8", "9.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0"]
        let sorted = texts.map(prefix).sorted().map(\.description)
        #expect(sorted == ["0.0.0.0/0", "9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/24", "10.1.0.0/16", "::/0", "fd00::/8"])
    }
}
