import CLinux
import Foundation
import Testing

/// Runs external programs for interop tests and owns everything they start: network namespaces
/// named `weft-<pid>-<n>` (unique per test process), and child processes killed by the PID we
/// started (never by name). Every wait is bounded.
final class Lab: @unchecked Sendable {
    static let isRoot = getuid() == 0
    static let skipReason: Comment = "needs root to create network namespaces (run the tests as root, as CI does)"

    fileprivate static let counter = Counter()
    private var namespaces: [String] = []
    private var children: [Child] = []
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
    /// Its standard output goes to `stdout` (a file path), discarded by default.
    @discardableResult
    func spawn(in namespace: String?, _ arguments: [String], environment: [String: String] = [:],
               stdout: String = "/dev/null") throws -> Child {
        let child = try Child.spawn((namespace.map { ["ip", "netns", "exec", $0] } ?? []) + arguments,
                                    environment: environment, stdout: stdout, stderr: "/dev/null")
        lock.withLock { children.append(child) }
        return child
    }

    /// Runs a command inside a namespace and returns its standard output.
    @discardableResult
    func exec(in namespace: String, _ arguments: [String], input: String? = nil, timeout: Double = 30) throws -> String {
        try Lab.run(["ip", "netns", "exec", namespace] + arguments, input: input, timeout: timeout)
    }

    func cleanUp() {
        let (kids, spaces) = lock.withLock { () -> ([Child], [String]) in
            defer { children = []; namespaces = [] }
            return (children, namespaces)
        }
        for child in kids { child.terminate() }
        // Whatever still runs inside a namespace this lab made was started by this test (a
        // daemonised `weft up`, say): end it by PID before the namespace goes.
        for name in spaces {
            let pids = ((try? Lab.run(["ip", "netns", "pids", name])) ?? "").split(separator: "\n").compactMap { Int32($0) }
            for pid in pids { kill(pid, SIGTERM) }
            let deadline = Date().addingTimeInterval(3)
            while Date() < deadline, !(((try? Lab.run(["ip", "netns", "pids", name])) ?? "").isEmpty) { usleep(20_000) }
            for pid in pids { kill(pid, SIGKILL) }
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
        // Output goes to temporary files, not pipes: a chatty child can never block on a full
        // pipe, and a daemon the command leaves behind holds nothing we wait for.
        let base = NSTemporaryDirectory() + "weft-lab-\(getpid())-\(Lab.counter.next())"
        defer {
            for suffix in [".in", ".out", ".err"] { try? FileManager.default.removeItem(atPath: base + suffix) }
        }
        try (input ?? "").write(toFile: base + ".in", atomically: false, encoding: .utf8)
        let child = try Child.spawn(arguments, stdin: base + ".in", stdout: base + ".out", stderr: base + ".err")
        let status = child.wait(timeout: timeout)
        let stdout = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return (status, stdout, stderr)
    }

    /// The built `weft` binary, next to the test bundle in the build products folder.
    static var weftBinary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        // XCTest/Testing on Linux runs `<products>/WeftPackageTests.xctest`.
        if folder.lastPathComponent.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
        return folder.appendingPathComponent("weft").path
    }

    /// Waits (bounded) until `condition` holds; returns whether it did.
    @discardableResult
    static func waitUntil(timeout: Double, every interval: Double = 0.05, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(UInt32(interval * 1_000_000))
        }
        return condition()
    }

    /// A short unique name for interfaces (at most 15 bytes; the UAPI socket directory is shared
    /// by every namespace on the machine, so names must be unique machine-wide).
    static func uniqueInterfaceName(_ prefix: String) -> String {
        "\(prefix)\(getpid() % 100_000)\(counter.next())"
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

/// A child process started with posix_spawn and reaped with waitpid. (Foundation's Process
/// decides a child has exited when an inherited socket closes, so a daemon the child leaves
/// behind would make it wait forever.)
final class Child: @unchecked Sendable {
    let pid: pid_t
    private var exitStatus: Int32?
    private let lock = NSLock()

    private init(pid: pid_t) { self.pid = pid }

    static func spawn(_ arguments: [String], environment: [String: String] = [:], stdin: String = "/dev/null",
                      stdout: String, stderr: String) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = clinux_spawn_add_closefrom(&actions, 3)
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
        guard result == 0 else {
            throw Lab.CommandFailed(arguments: arguments, status: result, output: String(cString: strerror(result)))
        }
        return Child(pid: pid)
    }

    var isRunning: Bool { lock.withLock { reap(flags: WNOHANG) } == nil }

    /// Waits at most `timeout` seconds, then kills; returns the exit status (128 + signal if killed).
    @discardableResult
    func wait(timeout: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = lock.withLock({ reap(flags: WNOHANG) }) { return status }
            usleep(2_000)
        }
        kill(pid, SIGKILL)
        return lock.withLock { reap(flags: 0) } ?? -1
    }

    /// SIGTERM, a bounded wait, then SIGKILL.
    func terminate() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if !Lab.waitUntil(timeout: 3, { !self.isRunning }) {
            kill(pid, SIGKILL)
            _ = lock.withLock { reap(flags: 0) }
        }
    }

    private func reap(flags: Int32) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, flags)
        guard result == pid else { return result < 0 ? (exitStatus ?? -1) : nil }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }
}
