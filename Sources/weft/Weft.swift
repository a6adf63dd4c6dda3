import ArgumentParser

@main
struct Weft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft",
        abstract: "Userspace WireGuard + VXLAN data plane with in-process OSPF.",
        version: "0.1.0",
        subcommands: [Up.self, Show.self, Check.self, GenKey.self, PubKey.self, GenPSK.self, SelfTest.self]
    )
}
