import ArgumentParser
import WeftCrypto

/// Known-answer checks of the cryptographic primitives on this machine's libsodium and CPU.
struct SelfTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run known-answer tests of the crypto primitives (RFC 7693, 8439, 7748).")

    func run() throws {
        let results = KnownAnswerTests.run()
        for result in results {
            print("\(result.passed ? "ok  " : "FAIL") \(result.name)")
        }
        let failed = results.filter { !$0.passed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
