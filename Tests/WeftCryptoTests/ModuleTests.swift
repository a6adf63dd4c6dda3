import Testing
@testable import WeftCrypto

@Test func moduleLinks() { #expect(WeftCryptoModule.name == "WeftCrypto") }
