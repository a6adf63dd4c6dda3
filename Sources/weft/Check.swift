import ArgumentParser
import WeftControlShim

#if canImport(Glibc)
import Glibc
#endif

/// `weft check FILE…`: validates node configuration files without running anything. Each error
/// names file, line, column and field; with several files, their links are checked against each
/// other (VNIs, addresses, keys and OSPF settings must agree at both ends).
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate node configuration files (YAML) without running them.")

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @Argument(help: "One or more node configuration files; several are also checked against each other.")
    var files: [String]

    func run() throws {
        var nodes: [NamedNodeConfig] = []
        var failed = false
        for file in files {
            do {
                let config = try NodeConfig.load(path: file)
                nodes.append(NamedNodeConfig(fileName: file, config: config))
                if !quiet { print("\(file): ok\n\(config.summary)\n") }
            } catch {
                printError(error.description)
                failed = true
            }
        }
        if nodes.count > 1 {
            let problems = NodeConfig.crossCheck(nodes)
            for problem in problems { printError(problem) }
            failed = failed || !problems.isEmpty
            if problems.isEmpty && !quiet { print("\(nodes.count) nodes agree on every shared link") }
        }
        if failed { throw ExitCode.failure }
    }
}

func printError(_ message: String) {
    var standardError = StandardError()
    print(message, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        _ = string.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
    }
}
