import CLinux
import Glibc
import Testing
@testable import WeftDataPlane

enum TestBackend: String, CaseIterable, Sendable {
    case ioUring, syscalls

    func udp(_ socket: UDPSocket, pool: BufferPool) throws -> any PacketIO {
        switch self {
        case .ioUring: try UDPRingIO(socket: socket, pool: pool)
        case .syscalls: UDPSyscallIO(socket: socket, pool: pool)
        }
    }

    func tun(_ device: TUNDevice, pool: BufferPool) throws -> any PacketIO {
        switch self {
        case .ioUring: try TUNRingIO(device: device, pool: pool)
        case .syscalls: TUNSyscallIO(device: device, pool: pool)
        }
    }
}

struct Pairing: Sendable, CustomTestStringConvertible {
    let sender: TestBackend
    let receiver: TestBackend
    var testDescription: String { "\(sender.rawValue)→\(receiver.rawValue)" }
    static let all = TestBackend.allCases.flatMap { s in TestBackend.allCases.map { Pairing(sender: s, receiver: $0) } }
}

/// Sends `count` stream payloads of `length(i)` bytes from `sender` to `destination` in
/// batches of `batchSize`.
func sendStream(_ sender: some PacketIO, to destination: Endpoint, count: Int, batchSize: Int = 32,
                length: (Int) -> Int) throws {
    var batch = PacketBatch(capacity: batchSize)
    for i in 0..<count {
        let payload = streamPayload(i, length: length(i))
        let packet = payload.withUnsafeBytes { sender.pool.makePacket(copying: $0, endpoint: destination) }
        batch.append(try #require(packet, "sender pool exhausted"))
        if batch.isFull || i == count - 1 { try sender.send(&batch) }
    }
}

@Suite("UDP drivers (own network namespace)", .enabled(if: runningAsRoot, rootRequiredReason), .timeLimit(.minutes(1)))
struct IOUDPTests {
    @Test(arguments: Pairing.all, ["127.0.0.1", "::1"])
    func loopbackBatches(_ pairing: Pairing, _ addressText: String) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let address = try #require(Endpoint.Address(addressText))
            let receiverSocket = try UDPSocket(.init(address: address))
            let senderSocket = try UDPSocket(.init(address: address))
            #expect(receiverSocket.localEndpoint.port != 0)
            #expect(receiverSocket.localEndpoint.address == address)
            #expect(receiverSocket.isIPv6 == (addressText == "::1"))
            // SO_RCVBUFFORCE got past rmem_max (the kernel reports twice the request).
            #expect(receiverSocket.receiveBufferBytes >= 8 << 20)

            let sender = try pairing.sender.udp(senderSocket, pool: BufferPool(capacity: 256))
            let receiver = try pairing.receiver.udp(receiverSocket, pool: BufferPool(capacity: 512))
            let count = 300
            let length = { (i: Int) in 1 + (i * 37) % 1400 }
            try sendStream(sender, to: receiverSocket.localEndpoint, count: count, length: length)
            #expect(sender.statistics.packetsSent == UInt64(count))
            #expect(sender.pool.available == sender.pool.capacity)

            var seen = Set<Int>()
            let received = try receivePackets(receiver, count: count) { packet, bytes in
                let index = streamIndex(UnsafeRawBufferPointer(bytes))
                #expect(packet.endpoint == senderSocket.localEndpoint)
                #expect(Array(bytes) == streamPayload(index, length: length(index)))
                return seen.insert(index).inserted
            }
            #expect(received == count)
            #expect(receiver.statistics.packetsReceived == UInt64(count))
            #expect(receiver.statistics.packetsDropped == 0)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func dualStackSocketReportsIPv4PeersAsIPv4(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let receiverSocket = try UDPSocket()
            #expect(receiverSocket.isIPv6)
            let port = receiverSocket.localEndpoint.port
            let v4Socket = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            let v6Socket = try UDPSocket(.init(address: Endpoint.Address("::1")!))
            let receiver = try backend.udp(receiverSocket, pool: BufferPool(capacity: 64))
            try sendStream(try backend.udp(v4Socket, pool: BufferPool(capacity: 8)),
                           to: Endpoint(address: .ipv4(127, 0, 0, 1), port: port), count: 2) { _ in 64 }
            try sendStream(try backend.udp(v6Socket, pool: BufferPool(capacity: 8)),
                           to: Endpoint(address: Endpoint.Address("::1")!, port: port), count: 2) { _ in 64 }
            var sources = Set<Endpoint>()
            #expect(try receivePackets(receiver, count: 4) { packet, _ in sources.insert(packet.endpoint); return true } == 4)
            #expect(sources == [v4Socket.localEndpoint, v6Socket.localEndpoint])
            #expect(sources.contains { $0.description.hasPrefix("127.0.0.1:") })
        }
    }

    @Test(arguments: Pairing.all)
    func segmentationTrainsAndCoalescedReceive(_ pairing: Pairing) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let loopback = Endpoint.Address.ipv4(127, 0, 0, 1)
            let receiverSocket = try UDPSocket(.init(address: loopback, receiveCoalescing: true))
            let senderSocket = try UDPSocket(.init(address: loopback, segmentationOffload: true))
            #expect(senderSocket.offloads.contains(.segmentation))
            #expect(receiverSocket.offloads.contains(.receiveCoalescing))
            let sender = try pairing.sender.udp(senderSocket, pool: BufferPool(capacity: 256))
            let receiver = try pairing.receiver.udp(receiverSocket, pool: BufferPool(capacity: 64, layout: .coalescing))
            // Trains of 31 × 1200 bytes and one shorter datagram, to one endpoint.
            let count = 256
            let length = { (i: Int) in i % 32 == 31 ? 700 : 1200 }
            try sendStream(sender, to: receiverSocket.localEndpoint, count: count, batchSize: 64, length: length)
            #expect(sender.statistics.segmentedSends > 0)
            #expect(sender.statistics.packetsSent == UInt64(count))

            var order: [Int] = []
            let received = try receivePackets(receiver, count: count) { packet, bytes in
                let index = streamIndex(UnsafeRawBufferPointer(bytes))
                #expect(packet.endpoint == senderSocket.localEndpoint)
                #expect(Array(bytes) == streamPayload(index, length: length(index)))
                order.append(index)
                return true
            }
            #expect(received == count)
            #expect(order == Array(0..<count))
            // Loopback hands GSO trains to a UDP_GRO socket whole.
            #expect(receiver.statistics.coalescedReceives > 0)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func receiveWaitsForLateArrivals(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let socket = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            let receiver = try backend.udp(socket, pool: BufferPool(capacity: 64))
            let sender = try backend.udp(try UDPSocket(.init(address: .ipv4(127, 0, 0, 1))), pool: BufferPool(capacity: 8))
            var batch = PacketBatch(capacity: 8)
            // Nothing there yet: the receive (armed, for io_uring) times out empty.
            let early = try receiver.receive(into: &batch, timeout: .milliseconds(20))
            #expect(early == 0)
            for round in 0..<3 {
                try sendStream(sender, to: socket.localEndpoint, count: 1) { _ in 10 + round }
                let late = try receivePackets(receiver, count: 1) { _, bytes in bytes.count == 10 + round }
                #expect(late == 1)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func smallPoolStillReceivesEverything(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            // Eight buffers for a hundred datagrams: io_uring's multishot receive runs out of
            // provided buffers (ENOBUFS) again and again and must be re-armed each time.
            let socket = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            let receiver = try backend.udp(socket, pool: BufferPool(capacity: 8))
            let sender = try backend.udp(try UDPSocket(.init(address: .ipv4(127, 0, 0, 1))), pool: BufferPool(capacity: 128))
            try sendStream(sender, to: socket.localEndpoint, count: 100) { _ in 500 }
            var seen = Set<Int>()
            let received = try receivePackets(receiver, count: 100, batchSize: 3) { _, bytes in
                seen.insert(streamIndex(UnsafeRawBufferPointer(bytes))).inserted
            }
            #expect(received == 100)
            #expect(receiver.statistics.packetsDropped == 0)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func unreachableDestinationsAreCountedNotThrown(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let v4Only = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            let io = try backend.udp(v4Only, pool: BufferPool(capacity: 8))
            // IPv6 through an AF_INET socket, and an underlay address with no route (only lo is up).
            try sendStream(io, to: Endpoint("[::1]:9")!, count: 1) { _ in 10 }
            try sendStream(io, to: Endpoint("198.18.0.1:51820")!, count: 2) { _ in 10 }
            #expect(io.statistics[dropped: .unreachableFamily] == 1)
            #expect(io.statistics[dropped: .sendFailed] == 2)
            #expect(io.statistics.lastSendError == .networkUnreachable)
            #expect(io.pool.available == io.pool.capacity)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func driversGiveEveryBufferBack(_ backend: TestBackend) async throws {
        try await withTemporaryNetworkNamespace { _ in
            let pool = BufferPool(capacity: 128)
            let socket = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            do {
                let io = try backend.udp(socket, pool: pool)
                try sendStream(io, to: socket.localEndpoint, count: 20) { _ in 100 }
                // Take some, leave the rest queued or lent inside the driver.
                var batch = PacketBatch(capacity: 5)
                let received = try io.receive(into: &batch, timeout: .seconds(1))
                #expect(received > 0)
                batch.releaseAll(to: pool)
                #expect(pool.available < pool.capacity || backend == .syscalls)
            }
            #expect(pool.available == pool.capacity)
        }
    }

    @Test func ringReportsFeatures() throws {
        switch Ring.availability() {
        case .success(let features):
            if features.contains(.deferTaskRun) { #expect(features.contains(.singleIssuer)) }
            #expect(!features.description.isEmpty || features.isEmpty)
        case .failure(let error):
            guard case .ioUringUnavailable = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }

    @Test func seccompBlockedIOUringIsAClearErrorAndTheFallbackWorks() async throws {
        try await withTemporaryNetworkNamespace { _ in
            // This thread only, as a container runtime's filter would.
            #expect(clinux_seccomp_deny_io_uring_setup(EPERM) == 0)
            #expect {
                _ = try Ring(entries: 8)
            } throws: { error in
                guard case IOBackendError.ioUringUnavailable(let reason) = error else { return false }
                return reason.contains("seccomp")
            }
            let socket = try UDPSocket(.init(address: .ipv4(127, 0, 0, 1)))
            #expect(throws: IOBackendError.self) { _ = try UDPRingIO(socket: socket, pool: BufferPool(capacity: 8)) }
            let fallback = UDPSyscallIO(socket: socket, pool: BufferPool(capacity: 8))
            try sendStream(fallback, to: socket.localEndpoint, count: 3) { _ in 50 }
            #expect(try receivePackets(fallback, count: 3) { _, _ in true } == 3)
        }
    }
}
