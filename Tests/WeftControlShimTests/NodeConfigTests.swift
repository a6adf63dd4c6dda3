import Testing
import WeftCrypto
import WeftDataPlane
import WeftOSPF
import WeftRouting
@testable import WeftControlShim

/// The examples in `examples/` (the documentation of the format) and what they parse into.
@Suite("Node configuration")
struct NodeConfigTests {
    /// `examples/NAME` in this checkout.
    static func example(_ name: String) -> String {
        let components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        return components.dropLast(3).joined(separator: "/") + "/examples/" + name
    }

    static let siteAPubKey = "hM/31HGaeDCeoJcQ/EkAk10xpAdCaVdyrw/xEjo1Tzc="
    static let siteBPubKey = "/Z9v++1QMODNhQ47EGnzG/+RdKgToyjXZdTgwH9qpl8="
    static let hubPubKey = "oeLKfExUCreQuz3AjVR741tuS8z2V8bRWVInVhU2Dzw="
    static let psk = "yEW+1SqBBHMn1KYxXyK1jaVQ4I2a0XQ8Z8/TBkAI6JA="

    @Test func parsesTheFullExample() throws {
        let config = try NodeConfig.load(path: Self.example("site-a.yaml"))
        #expect(config.name == "site-a")
        #expect(config.routerID == IPv4Address(100, 64, 255, 1))
        #expect(config.privKey.base64 == "UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc=")
        #expect(config.pubKey.base64 == Self.siteAPubKey)
        #expect(config.listenPort == 51820)
        #expect(config.tunName == "weft0")
        #expect(config.tunMTU == 1420)
        #expect(config.nodeVPNIPs.map(\.description) == ["100.64.255.1/32"])
        #expect(config.lanPrefixes.map(\.description) == ["100.64.1.0/24", "fd64:1::/64"])
        #expect(config.ospf.enabled)
        #expect(config.ospf.area == .any)
        #expect(config.overlayMTU == 1370)

        #expect(config.links.count == 2)
        let hub = config.links[0]
        #expect(hub.name == "to-hub")
        #expect(hub.peerPubKey.base64 == Self.hubPubKey)
        #expect(hub.peerEndpoint?.description == "198.18.0.1:51820")
        #expect(hub.psk?.base64 == Self.psk)
        #expect(hub.persistentKeepalive == 25)
        #expect(hub.vni.rawValue == 101)
        #expect(hub.linkVPNIPs.map(\.description) == ["100.64.100.1/30"])
        #expect(hub.peerLinkVPNIPs.map(\.description) == ["100.64.100.2"])
        #expect(hub.underlay == .ipv4(local: IPv4Address(100, 64, 100, 1), remote: IPv4Address(100, 64, 100, 2)))
        #expect(hub.allowedIPs.map(\.description) == ["100.64.100.2/32"])
        #expect(hub.vxlanMTU == 1370)
        #expect(hub.cost == 10)
        #expect(hub.ospf.helloInterval == 1)
        #expect(hub.ospf.deadInterval == 4)
        #expect(hub.ospf.authentication
            == .cryptographic([OSPFAuthenticationKey(keyID: 1, secret: Array("correct horse battery staple".utf8))]))

        let siteB = config.links[1]
        #expect(siteB.name == "to-site-b")
        #expect(siteB.peerPubKey.base64 == Self.siteBPubKey)
        #expect(siteB.peerEndpoint?.description == "198.18.0.3:51820")
        #expect(siteB.psk == nil)
        #expect(siteB.vni.rawValue == 103)
        #expect(siteB.linkVPNIPs.map(\.description) == ["100.64.100.9/30", "fd64:100::1/64"])
        #expect(siteB.peerLinkVPNIPs.map(\.description) == ["100.64.100.10", "fd64:100::2"])
        #expect(siteB.peerLinkVPNIP(.ipv6)?.description == "fd64:100::2")
        #expect(siteB.underlay == .ipv4(local: IPv4Address(100, 64, 100, 9), remote: IPv4Address(100, 64, 100, 10)))
        #expect(siteB.ospf.authentication == .none)

        #expect(config.staticRoutes.count == 1)
        #expect(config.staticRoutes[0].prefix.description == "fd64:2::/64")
        #expect(config.staticRoutes[0].gateway.description == "fd64:100::2")
        #expect(config.staticRoutes[0].link == "to-site-b")
        #expect(config.link(named: "to-site-b")?.vni.rawValue == 103)
    }

    @Test func parsesTheOtherExamples() throws {
        let hub = try NodeConfig.load(path: Self.example("hub.yaml"))
        #expect(hub.routerID == IPv4Address(100, 64, 255, 3))
        #expect(hub.lanPrefixes.isEmpty)
        #expect(hub.links.map(\.name) == ["to-site-a", "to-site-b"])
        #expect(hub.links.allSatisfy { $0.peerEndpoint == nil })
        let siteB = try NodeConfig.load(path: Self.example("site-b.yaml"))
        #expect(siteB.staticRoutes.map(\.gateway.description) == ["fd64:100::1"])
        #expect(siteB.staticRoutes.map(\.link) == ["to-site-a"])
    }

    @Test func examplesAgreeWithEachOther() throws {
        let nodes = try ["hub.yaml", "site-a.yaml", "site-b.yaml"].map { name throws(ConfigError) in
            NamedNodeConfig(fileName: name, config: try NodeConfig.load(path: Self.example(name)))
        }
        #expect(NodeConfig.crossCheck(nodes) == [])
    }

    @Test func crossCheckFindsDisagreements() throws {
        let siteA = try NodeConfig.load(path: Self.example("site-a.yaml"))
        let hub = try NodeConfig.parse(yaml: """
            node:
              name: site-a
              privKey: 2OrB/y0+IkA7O/2vvBiqyR5fdQ9sxBdUhREcIuUUrHc=
              nodeVPNIP: 100.64.255.1/32
              lanPrefixes: 100.64.1.128/25
              tunMTU: 1400
            links:
              - name: to-site-a
                peerPubKey: \(Self.siteAPubKey)
                vni: 102
                linkVPNIP: 100.64.100.2/29
                peerLinkVPNIP: 100.64.100.1
                ospf: {helloInterval: 2}
              - name: to-site-b
                peerPubKey: \(Self.siteBPubKey)
                vni: 103
                linkVPNIP: 100.64.100.13/30
                peerLinkVPNIP: 100.64.100.14
            """, fileName: "hub.yaml")
        let problems = NodeConfig.crossCheck([NamedNodeConfig(fileName: "site-a.yaml", config: siteA),
                                              NamedNodeConfig(fileName: "hub.yaml", config: hub)])
        #expect(problems == [
            "site-a.yaml and hub.yaml: both nodes are named site-a",
            "site-a.yaml and hub.yaml: both use Router ID 100.64.255.1",
            "site-a.yaml and hub.yaml: both have nodeVPNIP 100.64.255.1",
            "site-a.yaml and hub.yaml: lanPrefixes 100.64.1.0/24 and 100.64.1.128/25 overlap",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): VNI 101 vs 102",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): link prefix lengths differ: 100.64.100.1/30 -> 100.64.100.2 vs 100.64.100.2/29 -> 100.64.100.1",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): different pre-shared keys",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): link MTU 1370 vs 1350",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): OSPF hello/dead 1/4 s vs 2/8 s",
            "site-a.yaml: links[0] (to-hub) and hub.yaml: links[0] (to-site-a): different OSPF authentication",
        ])
    }

    @Test func defaultsAreApplied() throws {
        let config = try NodeConfig.parse(yaml: """
            node:
              name: site-a
              privKey: UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc=
              nodeVPNIP: [fd64:ff::1/128, 100.64.255.1/32]
            links:
              - name: to-hub
                peerPubKey: \(Self.hubPubKey)
                vni: 101
                linkVPNIP: 100.64.100.1/30
                peerLinkVPNIP: 100.64.100.2
              - name: to-site-b
                peerPubKey: \(Self.siteBPubKey)
                vni: 103
                linkVPNIP: 100.64.100.9/30
                peerLinkVPNIP: 100.64.100.10
                ospf: {helloInterval: 3}
            """, fileName: "site-a.yaml")
        #expect(config.routerID == IPv4Address(100, 64, 255, 1), "first IPv4 nodeVPNIP")
        #expect(config.listenPort == 51820)
        #expect(config.tunName == "weft0")
        #expect(config.tunMTU == 1420)
        #expect(config.lanPrefixes.isEmpty)
        #expect(config.staticRoutes.isEmpty)
        #expect(config.ospf.enabled)
        #expect(config.ospf.area == .any)
        let link = config.links[0]
        #expect(link.peerEndpoint == nil)
        #expect(link.psk == nil)
        #expect(link.persistentKeepalive == 0)
        #expect(link.cost == 10)
        #expect(link.ospf.helloInterval == 10)
        #expect(link.ospf.deadInterval == 40)
        #expect(link.ospf.authentication == .none)
        #expect(link.vxlanMTU == 1370)
        #expect(config.links[1].ospf.helloInterval == 3)
        #expect(config.links[1].ospf.deadInterval == 12, "4 × helloInterval")
    }

    @Test func minimalNodeWithoutLinks() throws {
        let config = try NodeConfig.parse(yaml: """
            node: {name: lonely, privKey: UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc=, nodeVPNIP: 100.64.255.9}
            """, fileName: "lonely.yaml")
        #expect(config.nodeVPNIPs.map(\.description) == ["100.64.255.9/32"])
        #expect(config.links.isEmpty)
        #expect(config.overlayMTU == 1370)
        #expect(config.interfaceChange().peers.isEmpty)
    }

    @Test func explicitIPv6UnderlayAndOtherForms() throws {
        let config = try NodeConfig.parse(yaml: """
            node:
              name: "1234"
              routerID: 10.0.0.1
              privKey: UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc=
              nodeVPNIP: 100.64.255.1/32
              tunMTU: 1500
            links:
              - name: to-hub
                peerPubKey: \(Self.hubPubKey)
                peerEndpoint: "[fd00::1]:51820"
                vni: 16777215
                linkVPNIP: 100.64.100.1/31
                peerLinkVPNIP: 100.64.100.0
                underlayIP: fd7e::1
                peerUnderlayIP: fd7e::2
                cost: 65535
            ospf:
              enabled: yes
              area: 1
            """, fileName: "site-a.yaml")
        #expect(config.name == "1234")
        #expect(config.routerID == IPv4Address(10, 0, 0, 1))
        #expect(config.ospf.area == IPv4Address(0, 0, 0, 1))
        let link = config.links[0]
        #expect(link.peerEndpoint?.description == "[fd00::1]:51820")
        #expect(link.vni.rawValue == 16_777_215)
        #expect(link.peerLinkVPNIPs.map(\.description) == ["100.64.100.0"], "a /31 has no network address (RFC 3021)")
        #expect(link.underlay == .ipv6(local: IPv6Address("fd7e::1")!, remote: IPv6Address("fd7e::2")!))
        #expect(link.allowedIPs.map(\.description) == ["fd7e::2/128"])
        #expect(link.vxlanMTU == 1430, "1500 - 70 over an IPv6 underlay")
        #expect(link.cost == 65535)
    }

    @Test func ipv6OnlyLinkWithoutOSPF() throws {
        let config = try NodeConfig.parse(yaml: """
            node:
              name: site-a
              privKey: UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc=
              nodeVPNIP: fd64:ff::1/128
              routerID: 100.64.255.1
            links:
              - name: to-hub
                peerPubKey: \(Self.hubPubKey)
                vni: 7
                linkVPNIP: fd64:100::1/64
                peerLinkVPNIP: fd64:100::2
            staticRoutes:
              - {prefix: "::/0", link: to-hub}
            ospf: {enabled: false}
            """, fileName: "site-a.yaml")
        #expect(!config.ospf.enabled)
        #expect(config.links[0].underlay == .ipv6(local: IPv6Address("fd64:100::1")!, remote: IPv6Address("fd64:100::2")!))
        #expect(config.links[0].vxlanMTU == 1350)
        #expect(config.staticRoutes[0].prefix.description == "::/0")
        #expect(config.staticRoutes[0].gateway.description == "fd64:100::2")
    }

    @Test func interfaceChangeDescribesTheWholeInterface() throws {
        let config = try NodeConfig.load(path: Self.example("site-a.yaml"))
        let change = config.interfaceChange()
        guard case .set(let key) = change.privateKey else {
            Issue.record("no private key")
            return
        }
        #expect(key.base64 == config.privKey.base64)
        #expect(change.listenPort == 51820)
        #expect(change.fwmark == nil)
        #expect(change.replacePeers)
        #expect(change.peers.map(\.publicKey.base64) == [Self.hubPubKey, Self.siteBPubKey])
        #expect(change.peers.map { $0.presharedKey?.base64 } == [Self.psk, PresharedKey.zero.base64])
        #expect(change.peers.map { $0.endpoint?.description } == ["198.18.0.1:51820", "198.18.0.3:51820"])
        #expect(change.peers.map(\.persistentKeepaliveInterval) == [25, 25])
        #expect(change.peers.allSatisfy { $0.replaceAllowedIPs && !$0.remove && !$0.updateOnly })
        #expect(change.peers.map { $0.allowedIPs.map(\.description) } == [["100.64.100.2/32"], ["100.64.100.10/32"]])
    }

    @Test func summaryShowsDerivedValuesAndNoSecrets() throws {
        let config = try NodeConfig.load(path: Self.example("site-a.yaml"))
        #expect(config.summary == """
            node site-a: router ID 100.64.255.1, public key \(Self.siteAPubKey)
              tun           weft0, WireGuard MTU 1420, overlay MTU 1370, listen port 51820
              node VPN IPs  100.64.255.1/32
              LAN prefixes  100.64.1.0/24, fd64:1::/64
              OSPF          area 0.0.0.0
            link to-hub (VNI 101)
              peer          \(Self.hubPubKey) at 198.18.0.1:51820, keepalive 25 s, PSK
              link VPN IPs  100.64.100.1/30 -> 100.64.100.2
              underlay      100.64.100.1 -> 100.64.100.2 (IPv4), MTU 1370, AllowedIPs 100.64.100.2/32
              OSPF          cost 10, hello 1 s, dead 4 s, auth hmac-sha256 key-ids [1]
            link to-site-b (VNI 103)
              peer          \(Self.siteBPubKey) at 198.18.0.3:51820, keepalive 25 s
              link VPN IPs  100.64.100.9/30 -> 100.64.100.10, fd64:100::1/64 -> fd64:100::2
              underlay      100.64.100.9 -> 100.64.100.10 (IPv4), MTU 1370, AllowedIPs 100.64.100.10/32
              OSPF          cost 10, hello 1 s, dead 4 s, auth none
            static routes
              fd64:2::/64 via fd64:100::2 (to-site-b)
            """)
        for secret in [config.privKey.base64, Self.psk, "correct horse"] {
            #expect(!config.summary.contains(secret))
        }
    }

    @Test(arguments: [
        ("routerId", ["routerID", "name"], "routerID"),
        ("peerPubkey", NodeConfigParser.linkKeys, "peerPubKey"),
        ("linkVPNIPs", NodeConfigParser.linkKeys, "linkVPNIP"),
        ("pskfile", NodeConfigParser.linkKeys, "pskFile"),
        ("vin", NodeConfigParser.linkKeys, "vni"),
        ("persistentKeepAlive", NodeConfigParser.linkKeys, "persistentKeepalive"),
        ("colour", NodeConfigParser.linkKeys, nil),
        ("x", ["y"], nil),
        ("", ["name"], nil),
    ] as [(String, [String], String?)])
    func suggestsCloseKeys(word: String, candidates: [String], expected: String?) {
        #expect(Suggestion.closest(to: word, among: candidates) == expected)
    }

    @Test func editDistanceMatchesTheDefinition() {
        func distance(_ a: String, _ b: String) -> Int {
            Suggestion.editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars))
        }
        #expect(distance("", "") == 0)
        #expect(distance("abc", "") == 3)
        #expect(distance("kitten", "sitting") == 3)
        #expect(distance("vni", "vin") == 1, "a transposition is one edit")
        #expect(distance("ca", "abc") == 3, "optimal string alignment, not full Damerau")
    }

    @Test func configErrorFormatsWithAndWithoutPosition() {
        #expect(ConfigError(fileName: "a.yaml", line: 3, column: 5, path: "node.name", message: "bad").description
            == "a.yaml:3:5: node.name: bad")
        #expect(ConfigError(fileName: "a.yaml", line: 3, column: nil, path: "", message: "bad").description
            == "a.yaml:3: bad")
        #expect(ConfigError(fileName: "a.yaml", line: nil, column: nil, path: "", message: "cannot read").description
            == "a.yaml: cannot read")
    }
}

@Suite("Node configuration: LAN interfaces")
struct NodeConfigLANInterfacesTests {
    @Test func lanInterfacesParse() throws {
        let config = try NodeConfig.parse(yaml: NodeConfigErrorTests.config(node: "  lanInterfaces: [eth1, lo]"),
                                          fileName: "site-a.yaml")
        #expect(config.lanInterfaces.map(\.name) == ["eth1", "lo"])
        #expect(config.lanInterfaces.allSatisfy { $0.ospf == nil && $0.cost == LinkConfig.defaultCost })
    }

    @Test func lanInterfaceWithOSPF() throws {
        let yaml = NodeConfigErrorTests.config(node: """
              lanInterfaces:
                - lo
                - name: eth1
                  cost: 20
                  ospf: {type: broadcast, priority: 0, helloInterval: 1, deadInterval: 4,
                         auth: {type: hmac-sha256, keyID: 7, key: lan secret}}
                - {name: eth2, ospf: {}}
                - {name: eth3, ospf: {type: pointToPoint, helloInterval: 2}}
            """)
        let config = try NodeConfig.parse(yaml: yaml, fileName: "site-a.yaml")
        #expect(config.lanInterfaces.map(\.name) == ["lo", "eth1", "eth2", "eth3"])
        #expect(config.lanInterfaces[0].ospf == nil)
        let eth1 = try #require(config.lanInterfaces[1].ospf)
        #expect(config.lanInterfaces[1].cost == 20)
        #expect(eth1.type == .broadcast && eth1.priority == 0 && eth1.helloInterval == 1 && eth1.deadInterval == 4)
        #expect(eth1.authentication == .cryptographic([OSPFAuthenticationKey(keyID: 7, secret: Array("lan secret".utf8))]))
        // Defaults: broadcast, priority 1, hello 10, dead 4 × hello, no authentication, cost 10.
        let eth2 = try #require(config.lanInterfaces[2].ospf)
        #expect(config.lanInterfaces[2].cost == 10)
        #expect(eth2.type == .broadcast && eth2.priority == 1 && eth2.helloInterval == 10 && eth2.deadInterval == 40)
        #expect(eth2.authentication == .none)
        let eth3 = try #require(config.lanInterfaces[3].ospf)
        #expect(eth3.type == .pointToPoint && eth3.deadInterval == 8)
        #expect(config.summary.contains("LAN eth1      OSPF broadcast, priority 0, cost 20, hello 1 s, dead 4 s, auth hmac-sha256"))
        #expect(config.summary.contains("LAN lo        networks advertised as stubs, cost 10"))
    }

    @Test func singleLANInterfaceMappingNeedsNoList() throws {
        let config = try NodeConfig.parse(
            yaml: NodeConfigErrorTests.config(node: "  lanInterfaces: {name: eth1, ospf: {priority: 9}}"), fileName: "site-a.yaml")
        #expect(config.lanInterfaces.map(\.name) == ["eth1"])
        #expect(config.lanInterfaces.first?.ospf?.priority == 9)
    }

    @Test func duplicateLANInterfaceIsRejected() {
        #expect(throws: ConfigError.self) {
            try NodeConfig.parse(yaml: NodeConfigErrorTests.config(node: "  lanInterfaces: [eth1, eth1]"), fileName: "site-a.yaml")
        }
    }
}
