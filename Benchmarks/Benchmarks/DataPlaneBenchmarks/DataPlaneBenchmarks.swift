// The WireGuard data path as the engine runs it, against its floor: raw libsodium
// ChaCha20-Poly1305 on the same 1420-byte packets, laid out in memory the same way. The Weft
// figures include the whole sans-I/O per-packet path (whitepaper §5.4.6): keypair lookup,
// transport header and counter, padding, replay window, timers and statistics, and on receive
// the AllowedIPs source check (§2). Also: cryptokey routing with 100k prefixes and full
// Noise_IKpsk2 handshakes between two devices.
//
// Per-packet benchmarks run 1000 packets per measured iteration (scalingFactor .kilo); the tool
// reports time and mallocs per packet (the rows marked `*`; `--scale` shows them per 1000).
// Compare Weft with raw libsodium only inside one run: on a shared machine wall clock varies
// ~20% between runs. Run: `cd Benchmarks && swift package benchmark --target DataPlaneBenchmarks`.

import Benchmark
import BenchmarkSupport
import CSodiumRaw
import WeftCrypto
import WeftDataPlane
import WeftRouting

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )
    _ = sodium_init()

    sealBenchmarks()
    openBenchmarks()
    handshakeBenchmark()
    allowedIPsBenchmarks()
}

/// Something built once, the first time a benchmark runs (not when benchmarks are registered:
/// the tool starts the executable once per benchmark).
final class Fixture<Value> {
    private let make: () -> Value
    private var value: Value?

    init(_ make: @escaping () -> Value) { self.make = make }

    var get: Value {
        if let value { return value }
        let made = make()
        value = made
        return made
    }
}

/// A session between two devices, established through the handshake before any measurement.
private func establishedDevices() -> TwoDevices {
    let devices = TwoDevices()
    devices.establishSession()
    return devices
}

// MARK: - Seal: encapsulate in place vs raw libsodium seal in place

private func sealBenchmarks() {
    // As the engine calls it: the packet read from the tunnel at offset 16 of a buffer with
    // room for the tag, encrypted in place into the transport message at offset 0. Sealing the
    // same buffer again and again is what raw libsodium does below too (the bytes being
    // ciphertext does not change the work); every packet gets a fresh counter.
    let sealing = Fixture(establishedDevices)
    Benchmark("Seal 1420 B: Weft encapsulate (peer given)") { benchmark in
        let devices = sealing.get
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ringStride, alignment: 64)
        defer { buffer.deallocate() }
        writeInnerPacket(into: buffer, at: WireGuard.transportHeaderLength, from: devices.tunnelA, to: devices.tunnelB)
        let (a, peer, now) = (devices.a, devices.peerB, devices.now)
        var sent = 0
        var emitted = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let result = a.encapsulate(packetLength: innerPacketLength, in: buffer, for: peer, now: now) { _ in
                emitted += 1
            }
            if case .writeToNetwork(let range, _) = result { sent &+= range.count }
        }
        benchmark.stopMeasurement()
        precondition(sent == benchmark.scaledIterations.count * 1452 && emitted == 0,
                     "encapsulate did not produce one 1452-byte message per packet")
        blackHole(buffer[0])
    }

    // The routed variant adds the AllowedIPs lookup of the destination (§2). Encryption
    // overwrote the destination address, so the 20-byte IP header is rewritten before each
    // packet: it stands in for the packet arriving fresh from the tunnel.
    let routing = Fixture(establishedDevices)
    Benchmark("Seal 1420 B: Weft encapsulate (routed by destination)") { benchmark in
        let devices = routing.get
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ringStride, alignment: 64)
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: 20, alignment: 16)
        defer { buffer.deallocate(); header.deallocate() }
        writeInnerPacket(into: buffer, at: WireGuard.transportHeaderLength, from: devices.tunnelA, to: devices.tunnelB)
        header.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[16 ..< 36]))
        let (a, now) = (devices.a, devices.now)
        let packet = buffer.baseAddress! + WireGuard.transportHeaderLength
        var sent = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            packet.copyMemory(from: header.baseAddress!, byteCount: 20)
            let result = a.encapsulate(packetLength: innerPacketLength, in: buffer, now: now) { _ in }
            if case .writeToNetwork(let range, _) = result { sent &+= range.count }
        }
        benchmark.stopMeasurement()
        precondition(sent == benchmark.scaledIterations.count * 1452, "routed encapsulate did not send every packet")
    }

    Benchmark("Seal 1420 B: raw libsodium") { benchmark in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ringStride, alignment: 64)
        let nonce = UnsafeMutableRawBufferPointer.allocate(byteCount: 12, alignment: 16)
        let key = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
        defer { buffer.deallocate(); nonce.deallocate(); key.deallocate() }
        key.initializeMemory(as: UInt8.self, repeating: 0x42)
        nonce.initializeMemory(as: UInt8.self, repeating: 0)
        writeInnerPacket(into: buffer, at: 16, from: IPv4Address(10, 0, 0, 1), to: IPv4Address(10, 0, 0, 2))
        // The same place as Weft's payload: 16 bytes in, tag right after.
        let message = (buffer.baseAddress! + 16).assumingMemoryBound(to: UInt8.self)
        var counter: UInt64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            nonce.storeBytes(of: counter.littleEndian, toByteOffset: 4, as: UInt64.self)
            _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                message, message + innerPacketLength, nil, message, UInt64(innerPacketLength), nil, 0, nil,
                nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            counter &+= 1
        }
        benchmark.stopMeasurement()
        blackHole(buffer[16])
    }
}

// MARK: - Open: decapsulate in place vs raw libsodium open in place

/// A ring of packet slots, `ringStride` apart.
private struct Ring {
    let storage: UnsafeMutableRawBufferPointer
    let count: Int

    init(count: Int) {
        self.count = count
        storage = .allocate(byteCount: count * ringStride, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[index * ringStride ..< (index + 1) * ringStride])
    }
}

private func openBenchmarks() {
    // Opening decrypts in place and the replay window takes each counter once, so one sealed
    // packet cannot be opened twice. Before each measured batch (unmeasured) device a seals one
    // fresh packet per slot of a ring, counters increasing; the batch then has device b
    // decapsulate the whole ring. The raw libsodium baseline does the same with a ring of the
    // same layout, so both read the ciphertext from the same distance in the cache hierarchy
    // (the ring, 1.5 MB, outgrows L2 as packets arriving from a socket would).
    let opening = Fixture(establishedDevices)
    let weftRing = Fixture { Ring(count: BenchmarkScalingFactor.kilo.rawValue) }
    Benchmark("Open 1420 B: Weft decapsulate") { benchmark in
        let devices = opening.get
        let ring = weftRing.get
        precondition(ring.count == benchmark.scaledIterations.count)
        let (a, b, peerB, source, now) = (devices.a, devices.b, devices.peerB, devices.endpointA, devices.now)
        for index in 0 ..< ring.count {
            let slot = ring.slot(index)
            writeInnerPacket(into: slot, at: WireGuard.transportHeaderLength, from: devices.tunnelA, to: devices.tunnelB)
            let sealed = a.encapsulate(packetLength: innerPacketLength, in: slot, for: peerB, now: now) { _ in }
            guard case .writeToNetwork(let range, _) = sealed, range == 0 ..< 1452 else {
                fatalError("sealing the ring failed: \(sealed)")
            }
        }
        var delivered = 0
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let datagram = UnsafeMutableRawBufferPointer(rebasing: ring.slot(index)[0 ..< 1452])
            let result = b.decapsulate(datagram, from: source, now: now) { _ in }
            if case .writeToTunnel(let range, _) = result { delivered &+= range.count }
        }
        benchmark.stopMeasurement()
        precondition(delivered == ring.count * innerPacketLength, "decapsulate did not deliver every packet")
    }

    let rawRing = Fixture { Ring(count: BenchmarkScalingFactor.kilo.rawValue) }
    var rawCounter: UInt64 = 0
    Benchmark("Open 1420 B: raw libsodium") { benchmark in
        let ring = rawRing.get
        precondition(ring.count == benchmark.scaledIterations.count)
        let nonce = UnsafeMutableRawBufferPointer.allocate(byteCount: 12, alignment: 16)
        let key = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
        defer { nonce.deallocate(); key.deallocate() }
        key.initializeMemory(as: UInt8.self, repeating: 0x42)
        nonce.initializeMemory(as: UInt8.self, repeating: 0)
        let keyBytes = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let nonceBytes = nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)
        // Ciphertext at offset 16 of each slot, tag after it, as in Weft's transport message;
        // the counter of slot i is `first + i`, and the nonce is rebuilt per packet as Weft does.
        let first = rawCounter
        for index in 0 ..< ring.count {
            let slot = ring.slot(index)
            writeInnerPacket(into: slot, at: 16, from: IPv4Address(10, 0, 0, 1), to: IPv4Address(10, 0, 0, 2))
            let message = (slot.baseAddress! + 16).assumingMemoryBound(to: UInt8.self)
            nonce.storeBytes(of: (first + UInt64(index)).littleEndian, toByteOffset: 4, as: UInt64.self)
            _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                message, message + innerPacketLength, nil, message, UInt64(innerPacketLength), nil, 0, nil,
                nonceBytes, keyBytes)
        }
        rawCounter += UInt64(ring.count)
        var failures: Int32 = 0
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let message = (ring.storage.baseAddress! + index * ringStride + 16).assumingMemoryBound(to: UInt8.self)
            nonce.storeBytes(of: (first + UInt64(index)).littleEndian, toByteOffset: 4, as: UInt64.self)
            failures |= crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                message, nil, message, UInt64(innerPacketLength), message + innerPacketLength, nil, 0,
                nonceBytes, keyBytes)
        }
        benchmark.stopMeasurement()
        precondition(failures == 0, "raw libsodium failed to open its own packets")
    }
}

// MARK: - Handshakes

private func handshakeBenchmark() {
    // One full Noise_IKpsk2 handshake per iteration (§5.4.2–§5.4.6), as a running session
    // rekeys: the clock moves REKEY_AFTER_TIME on, a's next packet (28 bytes, still sent on the
    // old session) triggers the initiation (§6.2); b consumes it and responds, a consumes the
    // response and confirms the new session with a keepalive, which b consumes. Both devices
    // count a completed handshake each time; all datagrams go through preallocated slots.
    let rekeying = Fixture(establishedDevices)
    Benchmark("Handshake: initiation + response + confirmation (rekey)",
              configuration: .init(scalingFactor: .one, maxIterations: 5_000)) { benchmark in
        let devices = rekeying.get
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 64)
        defer { buffer.deallocate() }
        let completedBefore = devices.handshakesCompleted
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            devices.now = devices.now + WireGuard.rekeyAfterTime
            writeInnerPacket(into: buffer, at: WireGuard.transportHeaderLength, length: 28,
                             from: devices.tunnelA, to: devices.tunnelB)
            devices.send(from: devices.a, buffer: buffer, length: 28)
            devices.deliverAll()
        }
        benchmark.stopMeasurement()
        precondition(devices.handshakesCompleted - completedBefore == 2 * benchmark.scaledIterations.count,
                     "not every iteration completed a handshake on both sides")
    }
}

// MARK: - Cryptokey routing with 100k prefixes

/// 100,000 distinct prefixes, half IPv4 (lengths 8–32) and half IPv6 (lengths 16–128), uniform
/// random bits and lengths, spread over 1024 peers; plus lookup addresses.
private struct RoutingFixture {
    static let prefixCount = 100_000
    static let addressCount = 4096

    var table = AllowedIPs<UInt32>()
    /// Addresses inside random inserted prefixes (host bits random): traffic that has a peer.
    var inside: [IPAddress] = []
    /// Uniformly random addresses, IPv4 and IPv6 alternating: most have no peer.
    var uniform: [IPAddress] = []

    init() {
        var random = SplitMix64(state: 0x5EED_A110_7ED1_9500)
        var prefixes: [IPPrefix] = []
        prefixes.reserveCapacity(Self.prefixCount)
        var attempts = 0
        while table.count < Self.prefixCount {
            attempts += 1
            precondition(attempts <= 4 * Self.prefixCount, "RoutingFixture: too many duplicate prefixes")
            let prefix: IPPrefix = if table.count % 2 == 0 {
                .v4(IPv4Prefix(address: IPv4Address(UInt32(truncatingIfNeeded: random.next())),
                               length: random.next(in: 8 ... 32))!.canonical)
            } else {
                .v6(IPv6Prefix(address: IPv6Address(hi: random.next(), lo: random.next()),
                               length: random.next(in: 16 ... 128))!.canonical)
            }
            let before = table.count
            table.insert(prefix, for: UInt32(attempts % 1024))
            if table.count > before { prefixes.append(prefix) }
        }
        for index in 0 ..< Self.addressCount {
            let hostBits = (random.next(), random.next())
            switch prefixes[Int(random.next() % UInt64(prefixes.count))] {
            case .v4(let prefix):
                inside.append(.v4(IPv4Address(prefix.address.value | (UInt32(truncatingIfNeeded: hostBits.0) & ~prefix.netmask.value))))
            case .v6(let prefix):
                let length = Int(prefix.length)
                let hiMask: UInt64 = length >= 64 ? 0 : (length == 0 ? ~0 : ~0 >> UInt64(length))
                let loMask: UInt64 = length <= 64 ? ~0 : (length == 128 ? 0 : ~0 >> UInt64(length - 64))
                inside.append(.v6(IPv6Address(hi: prefix.address.hi | (hostBits.0 & hiMask),
                                              lo: prefix.address.lo | (hostBits.1 & loMask))))
            }
            uniform.append(index % 2 == 0 ? .v4(IPv4Address(UInt32(truncatingIfNeeded: hostBits.0)))
                                          : .v6(IPv6Address(hi: hostBits.0, lo: hostBits.1)))
        }
        precondition(inside.allSatisfy { table.lookup($0) != nil }, "RoutingFixture: an inside address has no peer")
    }
}

private func allowedIPsBenchmarks() {
    let routing = Fixture { RoutingFixture() }
    // Each batch continues where the previous one stopped, cycling through all 4096 addresses.
    var cursor = 0
    for (name, addresses) in [("inside prefixes", \RoutingFixture.inside), ("uniform random", \RoutingFixture.uniform)] {
        Benchmark("AllowedIPs lookup, 100k prefixes: \(name) addresses") { benchmark in
            let fixture = routing.get
            let table = fixture.table
            let targets = fixture[keyPath: addresses]
            var found = 0
            var next = cursor
            benchmark.startMeasurement()
            targets.withUnsafeBufferPointer { targets in
                for _ in benchmark.scaledIterations {
                    if let peer = table.lookup(targets[next]) { found &+= Int(peer) &+ 1 }
                    next = (next + 1) & (RoutingFixture.addressCount - 1)
                }
            }
            benchmark.stopMeasurement()
            cursor = next
            blackHole(found)
        }
    }
}
