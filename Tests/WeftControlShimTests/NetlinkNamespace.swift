// Test support: every netlink test works in its own new, empty network namespace.
//
// A network namespace is a per-thread property on Linux, so a short-lived thread enters a new
// one with unshare(CLONE_NEWNET) and opens there (1) the netlink socket, which stays bound to
// that namespace whatever thread uses it later, and (2) a file descriptor for the namespace
// itself, through which ip(8) is run in it for cross-checks (nsenter --net=/proc/PID/fd/N).
// Test code then runs in the ordinary test task. The host's namespace is never touched, tests
// can run in parallel with the same interface names, and the namespace (with every veth and
// route in it) vanishes when the socket and descriptor are closed.

import Foundation
import Glibc
import Testing
@testable import WeftControlShim
import WeftRouting

/// Whether namespace tests can run on this machine.
enum NetlinkLab {
    /// Nil when the tests can run; otherwise why not (printed once, loudly, to stderr).
    static let unavailableReason: String? = {
        let reason: String?
        if geteuid() != 0 {
            reason = "not running as root: netlink tests need CAP_NET_ADMIN and unshare(CLONE_NEWNET)"
        } else {
            let done = DispatchSemaphore(value: 0)
            let result = ResultBox()
            Thread {
                if NamespaceSyscalls.unshare(NamespaceSyscalls.cloneNewNet) != 0 {
                    result.text = "unshare(CLONE_NEWNET) failed: \(String(cString: strerror(errno)))"
                }
                done.signal()
            }.start()
            done.wait()
            reason = result.text
        }
        if let reason {
            FileHandle.standardError.write(Data("*** SKIPPING netlink namespace tests: \(reason) ***\n".utf8))
        }
        return reason
    }()

    static var isAvailable: Bool { unavailableReason == nil }

    private final class ResultBox: @unchecked Sendable {
        var text: String?
    }
}

/// unshare(2) and CLONE_NEWNET, which the Glibc module does not import (they need _GNU_SOURCE).
enum NamespaceSyscalls {
    typealias Unshare = @convention(c) (Int32) -> Int32

    /// CLONE_NEWNET from linux/sched.h.
    static let cloneNewNet: Int32 = 0x4000_0000

    static let unshare: Unshare = unsafeBitCast(dlsym(nil, "unshare"), to: Unshare.self)

    typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32

    static let setns: SetNamespace = unsafeBitCast(dlsym(nil, "setns"), to: SetNamespace.self)
}

/// A fresh network namespace with `lo` up, and a netlink socket in it.
final class TestNamespace: Sendable {
    let socket: NetlinkSocket
    /// An open descriptor of the namespace (/proc/thread-self/ns/net of the creating thread).
    private let namespaceDescriptor: Int32

    private init(socket: NetlinkSocket, namespaceDescriptor: Int32) {
        self.socket = socket
        self.namespaceDescriptor = namespaceDescriptor
    }

    deinit {
        close(namespaceDescriptor)
    }

    /// Creates the namespace on a new thread (see the top of the file).
    static func make() async throws -> TestNamespace {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    guard NamespaceSyscalls.unshare(NamespaceSyscalls.cloneNewNet) == 0 else {
                        throw Failure(what: "unshare(CLONE_NEWNET)", detail: String(cString: strerror(errno)))
                    }
                    let descriptor = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                    guard descriptor >= 0 else {
                        throw Failure(what: "opening /proc/thread-self/ns/net", detail: String(cString: strerror(errno)))
                    }
                    let namespace = TestNamespace(socket: try NetlinkSocket(), namespaceDescriptor: descriptor)
                    try namespace.socket.setLink(namespace.socket.linkID(named: "lo"), up: true)
                    return namespace
                })
            }.start()
        }
    }

    /// The namespace as a path ip(8) accepts, e.g. for `ip link set DEV netns PATH`.
    var path: String { "/proc/\(getpid())/fd/\(namespaceDescriptor)" }

    /// Runs `body` on a new thread inside this namespace: sockets it opens belong to it.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let descriptor = namespaceDescriptor
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    guard NamespaceSyscalls.setns(descriptor, NamespaceSyscalls.cloneNewNet) == 0 else {
                        throw Failure(what: "setns", detail: String(cString: strerror(errno)))
                    }
                    return try body()
                })
            }.start()
        }
    }

    /// Runs ip(8) in this namespace and returns its standard output; throws with its standard
    /// error if it fails.
    @discardableResult
    func ip(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        process.arguments = ["--net=/proc/\(getpid())/fd/\(namespaceDescriptor)", "ip"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(what: "ip " + arguments.joined(separator: " "), detail: problem)
        }
        return text
    }

    /// Creates a veth pair, brings both ends up and returns their indices.
    func upVethPair(_ name: String, _ peer: String) throws -> (LinkID, LinkID) {
        let (a, b) = try socket.addVethPair(named: name, peerName: peer)
        try socket.setLink(a, up: true)
        try socket.setLink(b, up: true)
        return (a, b)
    }

    struct Failure: Error, CustomStringConvertible {
        var what: String
        var detail: String
        var description: String { "\(what) failed: \(detail)" }
    }
}

/// The trait every namespace suite carries.
extension Trait where Self == ConditionTrait {
    static var needsNetworkNamespaces: Self {
        .enabled(if: NetlinkLab.isAvailable, "needs root and unshare(CLONE_NEWNET); the reason is printed to stderr")
    }
}

/// Test literals, all valid by construction.
func prefix(_ text: String) -> IPPrefix { try! IPPrefix(parsing: text) }
func address(_ text: String) -> IPAddress { IPAddress(text)! }
