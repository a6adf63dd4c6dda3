import Testing
@testable import WeftDataPlane

@Test func moduleLinks() { #expect(WeftDataPlaneModule.name == "WeftDataPlane") }
