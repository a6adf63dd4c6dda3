import ArgumentParser
import WeftControlShim
import WeftDataPlane

#if canImport(Glibc)
import Glibc
#endif

/// `weft up IFNAME`: a drop-in for `wireguard-go IFNAME`. Creates the TUN interface, serves the
/// WireGuard UAPI on /var/run/wireguard/IFNAME.sock for `wg` and `wg-quick`, and (without
/// `--foreground`) returns once the interface is ready, leaving the engine in the background.
struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a WireGuard interface and serve the UAPI for wg/wg-quick (like wireguard-go).")

    @Flag(name: [.short, .long], help: "Stay in the foreground (also when WG_PROCESS_FOREGROUND=1).")
    var foreground = false

    @Option(help: "I/O backend: automatic, ioUring or syscalls.")
    var backend: WireGuardEngine.Backend = .automatic

    @Option(help: "MTU of the new interface (wg-quick sets its own).")
    var mtu: Int = 1420

    @Option(help: "Threads per direction that share each batch's encryption/decryption, 0 or 1 (default: 1 from 4 cores up).")
    var cryptoWorkers: Int = WireGuardEngine.Options.defaultCryptoWorkers

    @Flag(inversion: .prefixedNo, help: "TUN offloads (TSO/USO segmentation, TCP coalescing) and UDP GRO.")
    var offloads = true

    @Option(help: "Run an overlay node from its configuration file (see `weft check`) instead of a bare interface.")
    var config: String?

    @Argument(help: "Interface name (at most 15 characters); with --config, the file's tunName.")
    var interfaceName: String = ""

    func validate() throws {
        if config != nil {
            guard interfaceName.isEmpty else { throw ValidationError("give either --config FILE or IFNAME, not both") }
            return
        }
        guard !interfaceName.isEmpty, interfaceName.utf8.count <= 15,
              !interfaceName.contains("/"), !interfaceName.contains(" ") else {
            throw ValidationError("'\(interfaceName)' is not a valid interface name (1–15 characters, no '/' or spaces)")
        }
        guard (576...65535).contains(mtu) else { throw ValidationError("MTU \(mtu) is out of range (576–65535)") }
        guard (0...1).contains(cryptoWorkers) else { throw ValidationError("--crypto-workers must be 0 or 1") }
    }

    func run() throws {
        let wantsForeground = foreground || getenv("WG_PROCESS_FOREGROUND").map { String(cString: $0) == "1" } == true
        if let config {
            try runNode(configPath: config, foreground: wantsForeground)
            return
        }
        if !wantsForeground {
            let arguments = ["up", "--foreground", "--backend", backend.rawValue, "--mtu", "\(mtu)",
                             "--crypto-workers", "\(cryptoWorkers)", offloads ? "--offloads" : "--no-offloads", interfaceName]
            if let failure = Daemon.spawnAndWait(arguments: arguments) {
                throw UpError(message: failure.trimmingCharacters(in: "\n"))
            }
            return
        }
        InterfaceDaemon.blockTerminationSignals()
        let daemon: InterfaceDaemon
        do {
            daemon = try InterfaceDaemon(options: .init(interfaceName: interfaceName, mtu: mtu, backend: backend,
                                                        offloads: offloads, cryptoWorkers: cryptoWorkers))
        } catch {
            let message = "\(interfaceName): \(error)"
            Daemon.reportToParent(error: message)
            throw UpError(message: message)
        }
        Daemon.reportToParent(error: nil)
        daemon.runUntilSignalled()
    }
}

extension Up {
    /// `weft up --config FILE`: validate, then run the node (in the background unless asked not to).
    func runNode(configPath: String, foreground: Bool) throws {
        let node: NodeConfig
        do { node = try NodeConfig.load(path: configPath) } catch { throw UpError(message: error.description) }
        if !foreground {
            let absolute = configPath.hasPrefix("/") ? configPath
                : (FileManagerPath.currentDirectory() + "/" + configPath)
            if let failure = Daemon.spawnAndWait(arguments: ["up", "--foreground", "--config", absolute]) {
                throw UpError(message: failure.trimmingCharacters(in: "\n"))
            }
            return
        }
        InterfaceDaemon.blockTerminationSignals()
        let daemon: NodeDaemon
        do {
            daemon = try NodeDaemon(config: node)
        } catch {
            let message = "\(node.name): \(error)"
            Daemon.reportToParent(error: message)
            throw UpError(message: message)
        }
        Daemon.reportToParent(error: nil)
        daemon.runUntilSignalled()
    }
}

enum FileManagerPath {
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct UpError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension WireGuardEngine.Backend: ExpressibleByArgument {}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.last == set { text = text.dropLast() }
        while text.first == set { text = text.dropFirst() }
        return String(text)
    }
}
