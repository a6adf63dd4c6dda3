import Testing
@testable import WeftOSPF

@Test func moduleLinks() { #expect(WeftOSPFModule.name == "WeftOSPF") }
