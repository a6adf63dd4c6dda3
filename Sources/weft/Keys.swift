import ArgumentParser
import WeftCrypto

#if canImport(Glibc)
import Glibc
#endif

/// `weft genkey`: a new private key in WireGuard's base64 form, as `wg genkey`.
struct GenKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genkey",
        abstract: "Generate a new private key (base64) on standard output, as `wg genkey`.")

    func run() {
        warnIfWorldReadable()
        print(PrivateKey().base64)
    }
}

/// `weft genpsk`: a new pre-shared key, as `wg genpsk`.
struct GenPSK: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genpsk",
        abstract: "Generate a new pre-shared key (base64) on standard output, as `wg genpsk`.")

    func run() {
        warnIfWorldReadable()
        print(PresharedKey().base64)
    }
}

/// `weft pubkey`: reads a private key on standard input and prints its public key, as `wg pubkey`.
struct PubKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubkey",
        abstract: "Read a private key from standard input and print its public key, as `wg pubkey`.")

    func run() throws {
        // Like wg, accept the key with surrounding whitespace (a trailing newline from `echo`),
        // but nothing else: a second token is trailing garbage.
        var input = ""
        while let line = readLine(strippingNewline: false) {
            input += line
            if input.utf8.count > 4096 { break }
        }
        let trimmed = input.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
        guard trimmed.count == 1 else {
            throw KeyInputError.notOneKey
        }
        do {
            let key = try PrivateKey(base64: String(trimmed[0]))
            print(key.publicKey.base64)
        } catch {
            throw KeyInputError.bad(error)
        }
    }
}

enum KeyInputError: Error, CustomStringConvertible {
    case notOneKey
    case bad(CryptoError)

    var description: String {
        switch self {
        case .notOneKey: return "pubkey: expected exactly one base64 private key on standard input"
        case .bad(let error): return "pubkey: \(error)"
        }
    }
}

/// `wg genkey` warns when the key is about to land in a file others can read; so do we.
private func warnIfWorldReadable() {
    var status = stat()
    guard fstat(STDOUT_FILENO, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return }
    if status.st_mode & (S_IRWXG | S_IRWXO) != 0 {
        printError("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.")
    }
}
