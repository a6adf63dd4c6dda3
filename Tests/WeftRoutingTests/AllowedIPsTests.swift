import Testing
@testable import WeftRouting

@Suite struct AllowedIPsTests {
    @Test func routesToTheLongestMatchingPeer() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("10.0.0.0/8"), for: "alice")
        allowed.insert(prefix("10.1.0.0/16"), for: "bob")
        allowed.insert(prefix("fd00::/8"), for: "alice")
        allowed.insert(prefix("fd00:1::/32"), for: "carol")
        #expect(allowed.lookup(ip("10.2.3.4")) == "alice")
        #expect(allowed.lookup(ip("10.1.3.4")) == "bob")
        #expect(allowed.lookup(ip("fd00:2::1")) == "alice")
        #expect(allowed.lookup(ip("fd00:1::1")) == "carol")
        #expect(allowed.lookup(ip("192.0.2.1")) == nil)
        #expect(allowed.lookup(v4("10.1.0.1")) == "bob")
        #expect(allowed.lookup(v6("fd00:1::1")) == "carol")
        #expect(allowed.count == 4)
    }

    @Test func reinsertingMovesThePrefix() {
        var allowed = AllowedIPs<String>()
        #expect(allowed.insert(prefix("10.0.0.0/24"), for: "alice") == nil)
        #expect(allowed.insert(prefix("10.0.1.0/24"), for: "alice") == nil)
        #expect(allowed.insert(prefix("10.0.0.0/24"), for: "alice") == nil)  // same owner
        #expect(allowed.insert(prefix("10.0.0.0/24"), for: "bob") == "alice")
        #expect(allowed.lookup(ip("10.0.0.9")) == "bob")
        #expect(allowed.prefixes(of: "alice") == [prefix("10.0.1.0/24")])
        #expect(allowed.prefixes(of: "bob") == [prefix("10.0.0.0/24")])
        #expect(allowed.count == 2)
        // Moving the last prefix away forgets the peer.
        allowed.insert(prefix("10.0.1.0/24"), for: "bob")
        #expect(allowed.prefixes(of: "alice").isEmpty)
        #expect(Set(allowed.peers) == ["bob"])
    }

    @Test func canonicalisesPrefixes() {
        var allowed = AllowedIPs<Int>()
        allowed.insert(prefix("10.1.2.3/8"), for: 1)
        allowed.insert(prefix("fd00::1/64"), for: 1)
        #expect(allowed.prefixes(of: 1) == [prefix("10.0.0.0/8"), prefix("fd00::/64")])
        #expect(allowed.insert(prefix("10.0.0.0/8"), for: 2) == 1)
        #expect(allowed.remove(prefix("fd00::ffff/64")) == 1)
        #expect(allowed.prefixes(of: 1).isEmpty)
    }

    @Test func removesAllPrefixesOfAPeer() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("0.0.0.0/0"), for: "gateway")
        allowed.insert(prefix("10.0.0.0/8"), for: "alice")
        allowed.insert(prefix("10.1.0.0/16"), for: "alice")
        allowed.insert(prefix("fd00::/8"), for: "alice")
        allowed.insert(prefix("10.2.0.0/16"), for: "bob")
        #expect(allowed.remove(peer: "alice") == 3)
        #expect(allowed.remove(peer: "alice") == 0)
        #expect(allowed.prefixes(of: "alice").isEmpty)
        #expect(allowed.lookup(ip("10.1.2.3")) == "gateway")   // falls back to the less specific
        #expect(allowed.lookup(ip("10.2.2.3")) == "bob")
        #expect(allowed.lookup(ip("fd00::1")) == nil)
        #expect(allowed.count == 2)
        allowed.removeAll()
        #expect(allowed.isEmpty && allowed.lookup(ip("10.2.2.3")) == nil && allowed.peers.isEmpty)
    }

    @Test func checksTheSourceOfReceivedPackets() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("10.0.0.0/8"), for: "alice")
        allowed.insert(prefix("10.1.0.0/16"), for: "bob")
        #expect(allowed.allows("alice", source: ip("10.2.3.4")))
        #expect(!allowed.allows("alice", source: ip("10.1.2.3")))   // routes back to bob
        #expect(allowed.allows("bob", source: ip("10.1.2.3")))
        #expect(!allowed.allows("alice", source: ip("192.168.1.1")))
        #expect(!allowed.allows("mallory", source: ip("10.2.3.4")))
    }

    @Test func defaultRoutesPerFamily() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("0.0.0.0/0"), for: "v4-exit")
        allowed.insert(prefix("::/0"), for: "v6-exit")
        #expect(allowed.lookup(ip("203.0.113.9")) == "v4-exit")
        #expect(allowed.lookup(ip("0.0.0.0")) == "v4-exit")
        #expect(allowed.lookup(ip("2001:db8::9")) == "v6-exit")
        #expect(allowed.lookup(ip("::ffff:203.0.113.9")) == "v6-exit")
        #expect(allowed.allows("v4-exit", source: ip("8.8.8.8")))
        #expect(!allowed.allows("v4-exit", source: ip("::ffff:8.8.8.8")))
    }

    @Test func mappedAddressesAreNotIPv4() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("10.0.0.0/8"), for: "alice")
        #expect(allowed.lookup(ip("::ffff:10.0.0.1")) == nil)
        #expect(!allowed.allows("alice", source: ip("::ffff:10.0.0.1")))
        allowed.insert(prefix("::ffff:10.0.0.0/104"), for: "bob")
        #expect(allowed.lookup(ip("::ffff:10.0.0.1")) == "bob")
        #expect(allowed.lookup(ip("10.0.0.1")) == "alice")
        #expect(allowed.prefixes(of: "alice") == [prefix("10.0.0.0/8")])
    }

    @Test func readsAddressesFromPackets() {
        var allowed = AllowedIPs<String>()
        allowed.insert(prefix("192.0.2.0/24"), for: "alice")
        allowed.insert(prefix("2001:db8::/32"), for: "bob")
        let outgoing4 = ipv4Packet(source: v4("10.0.0.1"), destination: v4("192.0.2.55"))
        let incoming4 = ipv4Packet(source: v4("192.0.2.55"), destination: v4("10.0.0.1"))
        let incoming6 = ipv6Packet(source: v6("2001:db8::5"), destination: v6("fd00::1"))
        outgoing4.withUnsafeBytes { #expect(allowed.lookup(packetDestination: $0) == "alice") }
        incoming4.withUnsafeBytes {
            #expect(allowed.allows("alice", packetSource: $0))
            #expect(!allowed.allows("bob", packetSource: $0))
        }
        incoming6.withUnsafeBytes {
            #expect(allowed.allows("bob", packetSource: $0))
            #expect(allowed.lookup(packetDestination: $0) == nil)
        }
        incoming4.prefix(12).withUnsafeBytes {
            #expect(!allowed.allows("alice", packetSource: $0))
            #expect(allowed.lookup(packetDestination: $0) == nil)
        }
    }
}
