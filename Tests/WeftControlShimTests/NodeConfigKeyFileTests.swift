import Foundation
import Glibc
import Testing
import WeftCrypto
@testable import WeftControlShim

/// Keys read from files (privKeyFile, pskFile, OSPF keyFile) and `load(path:)` on real files.
@Suite("Node configuration files")
struct NodeConfigKeyFileTests {
    static let privKey = "UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc="
    static let hubPubKey = "oeLKfExUCreQuz3AjVR741tuS8z2V8bRWVInVhU2Dzw="
    static let psk = "yEW+1SqBBHMn1KYxXyK1jaVQ4I2a0XQ8Z8/TBkAI6JA="

    /// A fresh directory, removed after `body`.
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("weft-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func config(privKeyLine: String, linkLines: String = "") -> String {
        """
        node:
          name: site-a
          \(privKeyLine)
          nodeVPNIP: 100.64.255.1/32
        links:
          - name: to-hub
            peerPubKey: \(hubPubKey)
            vni: 101
            linkVPNIP: 100.64.100.1/30
            peerLinkVPNIP: 100.64.100.2
        \(linkLines)
        """
    }

    /// The error description, or nil if the text is valid.
    static func problem(_ body: () throws(ConfigError) -> NodeConfig) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.description
        }
    }

    @Test func keysFromAbsolutePaths() throws {
        try Self.withDirectory { directory in
            try Self.write(Self.privKey + "\n", to: directory + "/node.key")
            try Self.write(Self.psk + "\r\n", to: directory + "/link.psk")
            try Self.write("ospf secret\n", to: directory + "/ospf.key")
            let yaml = Self.config(privKeyLine: "privKeyFile: \(directory)/node.key", linkLines: """
                    pskFile: \(directory)/link.psk
                    ospf: {auth: {type: hmac-sha256, keyID: 7, keyFile: \(directory)/ospf.key}}
                """)
            let config = try NodeConfig.parse(yaml: yaml, fileName: "site-a.yaml")
            #expect(config.privKey.base64 == Self.privKey)
            #expect(config.links[0].psk?.base64 == Self.psk)
            #expect(config.links[0].ospf.authentication
                == .cryptographic([.init(keyID: 7, secret: Array("ospf secret".utf8))]))
        }
    }

    @Test func relativeKeyPathsFollowTheConfigFile() throws {
        try Self.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory + "/conf/keys", withIntermediateDirectories: true)
            try Self.write(Self.privKey, to: directory + "/conf/keys/node.key")
            try Self.write(Self.config(privKeyLine: "privKeyFile: keys/node.key"), to: directory + "/conf/site-a.yaml")
            let config = try NodeConfig.load(path: directory + "/conf/site-a.yaml")
            #expect(config.privKey.base64 == Self.privKey)
        }
    }

    @Test func unreadableOrBadKeyFiles() throws {
        try Self.withDirectory { directory in
            try Self.write("\n", to: directory + "/empty.key")
            try Self.write("not a key\n", to: directory + "/bad.key")
            try Self.write(Self.privKey + "\n\n# comment\n", to: directory + "/comment.key")
            #expect(mkfifo(directory + "/fifo.key", 0o600) == 0)
            let cases: [(String, String)] = [
                ("privKeyFile: \(directory)/missing.key",
                 "site-a.yaml:3:16: node.privKeyFile: cannot read \(directory)/missing.key: No such file or directory"),
                ("privKeyFile: \(directory)",
                 "site-a.yaml:3:16: node.privKeyFile: cannot read \(directory): not a regular file"),
                ("privKeyFile: \(directory)/fifo.key",
                 "site-a.yaml:3:16: node.privKeyFile: cannot read \(directory)/fifo.key: not a regular file"),
                ("privKeyFile: \(directory)/empty.key",
                 "site-a.yaml:3:16: node.privKeyFile: \(directory)/empty.key is empty"),
                ("privKeyFile: \(directory)/bad.key",
                 "site-a.yaml:3:16: node.privKeyFile: \(directory)/bad.key does not hold a valid WireGuard key (expected 44 characters of base64 ending in \"=\", as `weft genkey` prints)"),
                ("privKeyFile: \(directory)/comment.key",
                 "site-a.yaml:3:16: node.privKeyFile: \(directory)/comment.key does not hold a valid WireGuard key (expected 44 characters of base64 ending in \"=\", as `weft genkey` prints)"),
                ("privKeyFile: [a, b]",
                 "site-a.yaml:3:16: node.privKeyFile: expected a string, got a list"),
            ]
            for (line, expected) in cases {
                #expect(Self.problem { () throws(ConfigError) in
                    try NodeConfig.parse(yaml: Self.config(privKeyLine: line), fileName: "site-a.yaml")
                } == expected)
            }
            #expect(Self.problem { () throws(ConfigError) in
                try NodeConfig.parse(yaml: Self.config(privKeyLine: "privKey: \(Self.privKey)",
                                                       linkLines: "    pskFile: \(directory)/bad.key"),
                                     fileName: "site-a.yaml")
            } == "site-a.yaml:11:14: links[0].pskFile: \(directory)/bad.key does not hold a valid WireGuard key (expected 44 characters of base64 ending in \"=\", as `weft genkey` prints)")
            #expect(Self.problem { () throws(ConfigError) in
                try NodeConfig.parse(yaml: Self.config(privKeyLine: "privKey: \(Self.privKey)",
                                                       linkLines: "    ospf: {auth: {type: hmac-sha256, keyID: 1, keyFile: \(directory)/empty.key}}"),
                                     fileName: "site-a.yaml")
            } == "site-a.yaml:11:57: links[0].ospf.auth.keyFile: \(directory)/empty.key is empty")
        }
    }

    @Test func loadReportsFileProblems() throws {
        try Self.withDirectory { directory in
            #expect(Self.problem { () throws(ConfigError) in try NodeConfig.load(path: directory + "/none.yaml") }
                == "\(directory)/none.yaml: cannot read: No such file or directory")
            try Data([0x6E, 0x6F, 0x64, 0x65, 0x3A, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: directory + "/latin1.yaml"))
            #expect(Self.problem { () throws(ConfigError) in try NodeConfig.load(path: directory + "/latin1.yaml") }
                == "\(directory)/latin1.yaml: not UTF-8 text")
            try Self.write(Self.config(privKeyLine: "privKey: AAAA"), to: directory + "/site-a.yaml")
            #expect(Self.problem { () throws(ConfigError) in try NodeConfig.load(path: directory + "/site-a.yaml") }
                == "\(directory)/site-a.yaml:3:12: node.privKey: not a valid WireGuard key (decodes to 3 bytes, a key has 32)")
        }
    }

    @Test func configErrorsNeverShowSecrets() throws {
        // A key of the wrong length and an inline secret of the wrong type: neither is echoed.
        let almostKey = String(Self.privKey.dropLast(4))
        let text = Self.problem { () throws(ConfigError) in
            try NodeConfig.parse(yaml: Self.config(privKeyLine: "privKey: \(almostKey)"), fileName: "site-a.yaml")
        }
        #expect(text != nil)
        #expect(!(text ?? "").contains(almostKey))
    }
}
