import Testing
@testable import WeftRouting

@Test func moduleLinks() { #expect(WeftRoutingModule.name == "WeftRouting") }
