// Test support for the I/O drivers: a private network namespace per test (never the host's
// network), `ip` inside it, and a few packet builders.
import Foundation
import Testing
@testable import WeftDataPlane

/// Root can unshare network namespaces and create TUN devices; anyone else skips those tests.
let runningAsRoot = getuid() == 0
let rootRequiredReason: Comment =
    "SKIPPED: needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to unshare a network namespace and create TUN devices"

struct NotOnNamespaceThread: Error, CustomStringConvertible {
    var description: String { "the test body did not run on the namespace's thread" }
}

struct CommandFailed: Error, CustomStringConvertible {
    let command: [String]
    let status: Int32
    var description: String { "\(command.joined(separator: " ")) exited with \(status)" }
}

/// The namespace a test body runs in.
struct TemporaryNamespace: Sendable {
    /// /proc/<pid>/task/<tid>/ns/net of the thread that owns the namespace.
    let path: String

    /// Runs `ip ARGS` inside the namespace via nsenter; throws unless it exits 0 within 10 s.
    func ip(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        process.arguments = ["--net=\(path)", "ip"] + arguments
        try process.run()
        for _ in 0..<1000 {
            if !process.isRunning { break }
            usleep(10_000)
        }
        if process.isRunning {
            process.terminate()
            throw CommandFailed(command: ["ip"] + arguments, status: -1)
        }
        guard process.terminationStatus == 0 else {
            throw CommandFailed(command: ["ip"] + arguments, status: process.terminationStatus)
        }
    }
}

/// A task executor with one thread of its own, which first moves itself into a fresh network
/// namespace (unshare CLONE_NEWNET affects only the calling thread) and brings `lo` up.
/// Running a test body on it keeps the test's task-local context, so `#expect` failures are
/// attributed to the right test, while every socket, TUN device and ring the body opens lives
/// in that namespace and on that one thread (as io_uring's SINGLE_ISSUER wants).
final class NamespaceExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private let started = DispatchSemaphore(value: 0)
    private(set) var setupError: (any Error)?
    private(set) var path = ""

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "netns-test"
        thread.start()
        started.wait()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread finish (and with it the namespace, once the body closed its descriptors).
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        do {
            try NetworkNamespace.unshareCurrentThread()
            try NetworkInterface.setUp("lo")
            path = NetworkNamespace.currentThreadPath
        } catch {
            setupError = error
        }
        started.signal()
        // Serves jobs until stop(); each test enqueues a handful, and its time limit bounds it.
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs `body` on a `NamespaceExecutor`: in a private network namespace, on a dedicated thread.
/// Everything the body opens must be closed before it returns.
func withTemporaryNetworkNamespace<Value>(_ body: (TemporaryNamespace) throws -> Value) async throws -> Value {
    let executor = NamespaceExecutor()
    defer { executor.stop() }
    if let error = executor.setupError { throw error }
    let namespace = TemporaryNamespace(path: executor.path)
    return try await withTaskExecutorPreference(executor) {
        // Never run a network test on the host's network: insist on the namespace's thread.
        guard NetworkNamespace.currentThreadPath == namespace.path else { throw NotOnNamespaceThread() }
        return try body(namespace)
    }
}

/// Receives until `handle` accepted `count` packets or `deadline` passes, releasing every
/// packet after `handle` saw it (it returns false for packets that are not the test's, such as
/// IPv6 router solicitations on a fresh TUN). Returns how many were accepted.
func receivePackets(_ io: some PacketIO, count: Int, batchSize: Int = 64, deadline: Duration = .seconds(5),
                    _ handle: (Packet, UnsafeMutableRawBufferPointer) -> Bool) throws -> Int {
    var batch = PacketBatch(capacity: batchSize)
    var received = 0
    let clock = ContinuousClock()
    let end = clock.now.advanced(by: deadline)
    // Bounded by the deadline and, in count, by one call per expected packet plus waits.
    for _ in 0..<(count + 1000) {
        guard received < count, clock.now < end else { break }
        _ = try io.receive(into: &batch, timeout: .milliseconds(50))
        for i in 0..<batch.count where handle(batch[i], io.pool.payload(of: batch[i])) {
            received += 1
        }
        batch.releaseAll(to: io.pool)
    }
    return received
}

/// A unique interface name: TUN names are per namespace, but unique names keep failures
/// readable and never collide with the host's.
func uniqueInterfaceName(_ prefix: String) -> String {
    "\(prefix)\(UInt16.random(in: 0...UInt16.max))"
}

/// An IPv4 header plus UDP header and payload (RFC 791, RFC 768), UDP checksum 0 (allowed in
/// IPv4) and a correct header checksum.
func ipv4UDPPacket(source: UInt32, sourcePort: UInt16, destination: UInt32, destinationPort: UInt16,
                   payload: [UInt8]) -> [UInt8] {
    let total = 20 + 8 + payload.count
    var packet = [UInt8](repeating: 0, count: total)
    packet[0] = 0x45
    packet[2] = UInt8(total >> 8); packet[3] = UInt8(total & 0xFF)
    packet[6] = 0x40  // DF
    packet[8] = 64
    packet[9] = 17
    for i in 0..<4 {
        packet[12 + i] = UInt8(truncatingIfNeeded: source >> (24 - 8 * i))
        packet[16 + i] = UInt8(truncatingIfNeeded: destination >> (24 - 8 * i))
    }
    var sum: UInt32 = 0
    for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(packet[i]) << 8 | UInt32(packet[i + 1]) }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    let checksum = ~UInt16(sum)
    packet[10] = UInt8(checksum >> 8); packet[11] = UInt8(checksum & 0xFF)
    packet[20] = UInt8(sourcePort >> 8); packet[21] = UInt8(sourcePort & 0xFF)
    packet[22] = UInt8(destinationPort >> 8); packet[23] = UInt8(destinationPort & 0xFF)
    let udpLength = 8 + payload.count
    packet[24] = UInt8(udpLength >> 8); packet[25] = UInt8(udpLength & 0xFF)
    packet.replaceSubrange(28..<total, with: payload)
    return packet
}

/// The payload of an IPv4 UDP packet to `destination:port`, or nil for any other packet.
func udpPayload(ofIPv4 bytes: UnsafeRawBufferPointer, destination: UInt32, port: UInt16) -> [UInt8]? {
    guard bytes.count >= 28, bytes[0] >> 4 == 4, bytes[9] == 17 else { return nil }
    let headerLength = Int(bytes[0] & 0x0F) * 4
    guard bytes.count >= headerLength + 8 else { return nil }
    let dst = UInt32(bytes[16]) << 24 | UInt32(bytes[17]) << 16 | UInt32(bytes[18]) << 8 | UInt32(bytes[19])
    let dport = UInt16(bytes[headerLength + 2]) << 8 | UInt16(bytes[headerLength + 3])
    guard dst == destination, dport == port else { return nil }
    return Array(bytes[(headerLength + 8)...])
}

/// Payload `index` of a test stream: a 4-byte sequence number and a pattern, `length` bytes.
func streamPayload(_ index: Int, length: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: max(4, length))
    bytes[0] = UInt8(truncatingIfNeeded: index >> 24); bytes[1] = UInt8(truncatingIfNeeded: index >> 16)
    bytes[2] = UInt8(truncatingIfNeeded: index >> 8); bytes[3] = UInt8(truncatingIfNeeded: index)
    for i in 4..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: index &* 31 &+ i) }
    return bytes
}

/// The sequence number of a stream payload.
func streamIndex(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard bytes.count >= 4 else { return -1 }
    return Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
}
