import Foundation
import Testing

/// Runs external programs for interop tests and owns everything they start: network namespaces
/// named `weft-<pid>-<n>` (unique per test process), and child processes killed by the PID we
/// started (never by name). Every wait is bounded.
final class Lab: @unchecked Sendable {
    static let isRoot = getuid() == 0
    static let skipReason: Comment = "needs root to create network namespaces (run the tests as root, as CI does)"

    private static let counter = Counter()
    private var namespaces: [String] = []
    private var children: [Process] = []
    private let lock = NSLock()

    init() {}

    deinit { cleanUp() }

    /// Creates a fresh network namespace with `lo` up.
    func makeNamespace() throws -> String {
        let name = "weft-\(getpid())-\(Lab.counter.next())"
        try Lab.run(["ip", "netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try Lab.run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name
    }

    /// Connects two namespaces with a veth pair and gives each end an underlay address
    /// (198.18.0.0/15 only) with its prefix length.
    func link(_ a: String, _ aAddress: String, _ b: String, _ bAddress: String,
              names: (String, String) = ("eth0", "eth0")) throws {
        let tmpA = "wv\(getpid() % 10000)a\(Lab.counter.next())"
        let tmpB = "wv\(getpid() % 10000)b\(Lab.counter.next())"
        try Lab.run(["ip", "link", "add", tmpA, "netns", a, "type", "veth", "peer", "name", tmpB, "netns", b])
        try Lab.run(["ip", "-n", a, "link", "set", tmpA, "name", names.0])
        try Lab.run(["ip", "-n", b, "link", "set", tmpB, "name", names.1])
        try Lab.run(["ip", "-n", a, "addr", "add", aAddress, "dev", names.0])
        try Lab.run(["ip", "-n", b, "addr", "add", bAddress, "dev", names.1])
        try Lab.run(["ip", "-n", a, "link", "set", names.0, "up"])
        try Lab.run(["ip", "-n", b, "link", "set", names.1, "up"])
    }

    /// Starts a long-running program inside a namespace; it is killed (by PID) at clean-up.
    @discardableResult
    func spawn(in namespace: String?, _ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = (namespace.map { ["ip", "netns", "exec", $0] } ?? []) + arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock { children.append(process) }
        return process
    }

    /// Runs a command inside a namespace and returns its standard output.
    @discardableResult
    func exec(in namespace: String, _ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> String {
        try Lab.run(["ip", "netns", "exec", namespace] + arguments, input: input, timeout: timeout)
    }

    func cleanUp() {
        let (kids, spaces) = lock.withLock { () -> ([Process], [String]) in
            defer { children = []; namespaces = [] }
            return (children, namespaces)
        }
        for child in kids where child.isRunning {
            kill(child.processIdentifier, SIGTERM)
        }
        for child in kids {
            let deadline = Date().addingTimeInterval(3)
            while child.isRunning && Date() < deadline { usleep(20_000) }
            if child.isRunning { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() }
        }
        for name in spaces {
            _ = try? Lab.run(["ip", "netns", "del", name])
        }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let arguments: [String]
        let status: Int32
        let output: String
        var description: String { "`\(arguments.joined(separator: " "))` exited \(status): \(output)" }
    }

    /// Runs a program to completion (bounded by `timeout` seconds) and returns standard output;
    /// throws with standard error when it fails.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil, timeout: Double = 30,
                    allowFailure: Bool = false) throws -> String {
        let result = try runCapturing(arguments, input: input, timeout: timeout)
        if result.status != 0 && !allowFailure {
            throw CommandFailed(arguments: arguments, status: result.status, output: result.stderr + result.stdout)
        }
        return result.stdout
    }

    static func runCapturing(_ arguments: [String], input: String? = nil, timeout: Double = 30)
        throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        // Output goes to temporary files, not pipes: a chatty child can never block on a full pipe.
        let base = NSTemporaryDirectory() + "weft-lab-\(getpid())-\(Lab.counter.next())"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        let inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        try process.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try? inp.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let stdout = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return (process.terminationStatus, stdout, stderr)
    }

    /// The built `weft` binary, next to the test bundle in the build products folder.
    static var weftBinary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        // XCTest/Testing on Linux runs `<products>/WeftPackageTests.xctest`.
        if folder.lastPathComponent.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
        return folder.appendingPathComponent("weft").path
    }

    static func which(_ tool: String) -> Bool {
        (try? runCapturing(["sh", "-c", "command -v \(tool)"]).status) == 0
    }
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}
