import Testing
@testable import WeftControlShim

@Test func moduleLinks() { #expect(WeftControlShimModule.name == "WeftControlShim") }
