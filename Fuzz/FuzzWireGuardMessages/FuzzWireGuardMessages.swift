// Fuzzes the WireGuard core's receive path (whitepaper §5.4): every datagram an attacker can send
// must come back as a result, with each drop counted once, and never crash.
//
// One input goes several ways, all from the initiator's endpoint:
// 1. as a datagram to a device with one configured peer and no session (the message parsers,
//    mac1, the handshake),
// 2. the same to a twin of that device under load (mac2, cookie replies, the rate limiter, §5.3),
// 3. to a responder that completed a handshake, once as it is and once with its header rewritten
//    to type 4 and the live receiver index, so that random bytes reach the replay window and the
//    AEAD instead of stopping at the index lookup;
// 4. if it has the length of an initiation (response), with type and mac1 rewritten as an attacker
//    who knows the public key can: the Noise processing behind mac1 (§5.4.2–5.4.4), DH with
//    arbitrary points included; a response also gets the receiver index of a pending handshake;
// 5. as an inner IP packet, encrypted by the initiator's session and decrypted by the responder:
//    the inner-length and AllowedIPs source checks (§2), compared with a naive model.
//
// The devices and the handshake are built once per process (X25519 is too slow to redo per input);
// inputs may change their state (a valid initiation among the seeds is consumed once, counters
// move), which only makes runs more varied. Time stands still after the setup: no timer fires.

import Glibc
import WeftCrypto
import WeftDataPlane
import WeftRouting

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without `-DFUZZING`: runs the same check on each file named on the command line (to reproduce
/// a crash under a debugger), or writes the seed corpus with `--write-seeds DIRECTORY`.
@main enum Reproducer {
    static func main() {
        var arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--write-seeds", let directory = arguments.dropFirst().first {
            for (name, bytes) in harness.seeds { writeFile("\(directory)/\(name)", bytes) }
            return
        }
        arguments = arguments.filter { !$0.hasPrefix("-") }
        for path in arguments {
            let bytes = readFile(path)
            bytes.withUnsafeBytes { harness.run($0) }
            print("\(path): no failure")
        }
    }

    static func readFile(_ path: String) -> [UInt8] {
        guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[0 ..< count]
        }
        return bytes
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) {
        guard let file = fopen(path, "wb"), fwrite(bytes, 1, bytes.count, file) == bytes.count, fclose(file) == 0 else {
            fatalError("cannot write \(path)")
        }
    }
}
#endif

nonisolated(unsafe) let harness = Harness()

/// SplitMix64 bytes: a deterministic `RandomSource`, so each process builds the same handshake
/// (and the seeds written by `--write-seeds` stay valid for it).
final class SeededBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var word: UInt64 = 0
        for index in buffer.indices {
            if index % 8 == 0 { word = next() }
            buffer[index] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(index % 8)))
        }
    }

    private func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func source(_ seed: UInt64) -> WireGuard.RandomSource {
        let bytes = SeededBytes(seed: seed)
        return WireGuard.RandomSource { bytes.fill($0) }
    }
}

final class Harness {
    typealias Device = WireGuard.Device<Endpoint>

    /// The setup starts at `start`; the initiator retries its handshake (with a cookie) at `now`,
    /// the instant of everything after it.
    static let start = WireGuard.Instant(nanoseconds: 1_000_000_000_000)
    static let now = start + WireGuard.rekeyTimeout + .seconds(1)
    static let initiatorEndpoint = Endpoint(address: .ipv4(198, 51, 100, 1), port: 51820)
    static let responderEndpoint = Endpoint(address: .ipv4(198, 51, 100, 2), port: 51820)
    /// Tunnel addresses: each side allows the other's as sources.
    static let initiatorIPv4 = IPv4Address(10, 100, 0, 1)
    static let initiatorIPv6 = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 1)
    static let responderIPv4 = IPv4Address(10, 100, 0, 2)
    static let responderIPv6 = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 2)
    /// Inputs longer than this are cut: no UDP datagram is larger.
    static let maximumInput = 65535

    let initiator: Device
    let responder: Device
    /// The responder's key with the initiator as its only peer, and no session.
    let listener: Device
    /// The same, permanently under load.
    let loadedListener: Device
    /// The same, waiting for the response to an initiation of its own.
    let pendingListener: Device
    /// The responder, as the initiator knows it, and the initiator as the responder knows it.
    let responderID: WireGuard.PeerID
    let initiatorID: WireGuard.PeerID
    /// The responder's receiver index of the live session.
    private(set) var sessionIndex: UInt32 = 0
    /// The pending listener's receiver index of its handshake.
    private(set) var pendingIndex: UInt32 = 0
    /// HASH(LABEL_MAC1 || S_pub) of the responder's key (§5.4.4), which all listeners share.
    let mac1Key: Bytes32
    /// Real messages from the setup, for the seed corpus.
    private(set) var seeds: [(name: String, bytes: [UInt8])] = []
    /// Where each input is copied before a device decrypts it in place.
    let buffer: UnsafeMutableRawBufferPointer

    init() {
        func key(_ fill: UInt8) -> PrivateKey {
            PrivateKey(rawBytes: Bytes32([UInt8](repeating: fill, count: 32))!)
        }
        let initiatorKey = key(0x11)
        let responderKey = key(0x22)
        let wallClock = WireGuard.WallClockAnchor(unixNanoseconds: 1_700_000_000_000_000_000, at: Self.start)
        func device(_ key: PrivateKey, seed: UInt64) -> Device {
            Device(privateKey: key, wallClock: wallClock, random: SeededBytes.source(seed))
        }
        initiator = device(initiatorKey, seed: 1)
        responder = device(responderKey, seed: 2)
        listener = device(responderKey, seed: 3)
        loadedListener = device(responderKey, seed: 4)
        loadedListener.isUnderLoad = true
        pendingListener = device(responderKey, seed: 5)
        var label = WireGuard.labelMAC1
        mac1Key = label.withUTF8 { text in
            responderKey.publicKey.raw.withUnsafeBytes { BLAKE2s.hash(UnsafeRawBufferPointer(text), $0) }
        }
        buffer = .allocate(byteCount: Self.maximumInput + 64, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)

        let initiatorPeer = WireGuard.PeerConfiguration<Endpoint>(
            publicKey: initiatorKey.publicKey, endpoint: Self.initiatorEndpoint,
            allowedIPs: [.v4(IPv4Prefix(host: Self.initiatorIPv4)), .v6(IPv6Prefix(host: Self.initiatorIPv6))])
        do {
            responderID = try initiator.addPeer(
                .init(publicKey: responderKey.publicKey, endpoint: Self.responderEndpoint,
                      allowedIPs: [.v4(IPv4Prefix(host: Self.responderIPv4)), .v6(IPv6Prefix(host: Self.responderIPv6))]),
                now: Self.start)
            initiatorID = try responder.addPeer(initiatorPeer, now: Self.start)
            for device in [listener, loadedListener, pendingListener] { try device.addPeer(initiatorPeer, now: Self.start) }
        } catch {
            fatalError("harness: cannot add peers: \(error)")
        }

        // The handshake (§5.4.2, §5.4.3), started by a packet that waits for the session. The
        // first initiation meets a device under load and gets a cookie reply (§5.4.7); the retry
        // carries mac2 and completes the handshake.
        let ipv4 = Self.ipv4Packet(from: Self.initiatorIPv4, to: Self.responderIPv4, payload: Array("weft fuzz".utf8))
        let initiation = send(ipv4, from: initiator, to: responderID, at: Self.start, expectingSession: false)
            .only("initiation")
        let cookieReply = deliver(initiation, to: loadedListener, at: Self.start, expect: .drop(.cookieRequired))
            .only("cookie reply")
        _ = deliver(cookieReply, to: initiator, from: Self.responderEndpoint, at: Self.start, expect: .done)
        var retried: [[UInt8]] = []
        initiator.tick(now: Self.now) { if case .datagram(let bytes, _) = $0 { retried.append(Array(bytes)) } }
        let initiationWithCookie = retried.only("retried initiation")
        let response = deliver(initiationWithCookie, to: responder, expect: .done).only("response")
        let transport = deliver(response, to: initiator, from: Self.responderEndpoint, expect: .done).only("transport")
        let toTunnel = WireGuard.DecapsulateResult.writeToTunnel(16 ..< 16 + ipv4.count, peer: initiatorID)
        _ = deliver(transport, to: responder, expect: toTunnel)
        sessionIndex = Self.index(in: transport, at: 4)
        let keepalive = send([], from: initiator, to: responderID, expectingSession: true).only("keepalive")

        // The pending listener starts a handshake with the initiator that never completes.
        let outgoing = Self.ipv4Packet(from: Self.responderIPv4, to: Self.initiatorIPv4, payload: [])
        let pending = send(outgoing, from: pendingListener, to: pendingListener.peers[0], expectingSession: false)
            .only("pending initiation")
        pendingIndex = Self.index(in: pending, at: 4)

        let ipv6 = Self.ipv6Packet(from: Self.initiatorIPv6, to: Self.responderIPv6, payload: Array("weft fuzz".utf8))
        seeds = [("initiation", initiation), ("initiation-with-cookie", initiationWithCookie), ("cookie-reply", cookieReply),
                 ("response", response), ("transport", transport), ("keepalive", keepalive),
                 ("inner-ipv4", ipv4), ("inner-ipv6", ipv6)]
    }

    // MARK: Per input

    func run(_ input: UnsafeRawBufferPointer) {
        let input = UnsafeRawBufferPointer(rebasing: input.prefix(Self.maximumInput))
        check(input, to: listener)
        check(input, to: loadedListener)
        check(input, to: responder)
        if input.count >= WireGuard.transportHeaderLength {
            check(input, to: responder) { message in
                // Type 4 and the live receiver index; counter and ciphertext stay the fuzzer's.
                message.storeBytes(of: WireGuard.MessageType.transportData.rawValue.littleEndian, as: UInt32.self)
                message.storeBytes(of: self.sessionIndex.littleEndian, toByteOffset: 4, as: UInt32.self)
            }
        }
        if input.count == WireGuard.handshakeInitiationLength {
            check(input, to: listener) { message in
                message.storeBytes(of: WireGuard.MessageType.handshakeInitiation.rawValue.littleEndian, as: UInt32.self)
                self.writeMAC1(message)
            }
        }
        if input.count == WireGuard.handshakeResponseLength {
            check(input, to: pendingListener) { message in
                message.storeBytes(of: WireGuard.MessageType.handshakeResponse.rawValue.littleEndian, as: UInt32.self)
                message.storeBytes(of: self.pendingIndex.littleEndian, toByteOffset: 8, as: UInt32.self)
                self.writeMAC1(message)
            }
        }
        checkInnerPacket(input)
    }

    /// mac1 = MAC(HASH(LABEL_MAC1 || S_pub), msgα) for a handshake message to the listeners (§5.4.4).
    private func writeMAC1(_ message: UnsafeMutableRawBufferPointer) {
        let mac1Offset = message.count - 2 * WireGuard.macLength
        mac1Key.withUnsafeBytes { key in
            BLAKE2s.mac16(key: key, UnsafeRawBufferPointer(rebasing: message[..<mac1Offset]),
                          into: UnsafeMutableRawBufferPointer(rebasing: message[mac1Offset ..< mac1Offset + WireGuard.macLength]))
        }
    }

    /// Decapsulates a copy of `input` (after `rewrite`), checking that the result lies inside the
    /// datagram and that exactly the drops reported were counted.
    private func check(_ input: UnsafeRawBufferPointer, to device: Device,
                       rewrite: (UnsafeMutableRawBufferPointer) -> Void = { _ in }) {
        let datagram = UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< input.count])
        datagram.copyMemory(from: input)
        rewrite(datagram)
        let before = device.drops
        let result = device.decapsulate(datagram, from: Self.initiatorEndpoint, now: Self.now, output: { _ in })
        checkCounted(result, before: before, after: device.drops)
        if case .writeToTunnel(let range, _) = result {
            precondition(range.lowerBound == 16 && range.upperBound <= datagram.count - 16,
                         "inner packet \(range) outside the \(datagram.count)-byte datagram")
        }
    }

    private func checkCounted(_ result: WireGuard.DecapsulateResult, before: WireGuard.DropCounters,
                              after: WireGuard.DropCounters) {
        var expected = before
        if case .drop(let reason) = result { expected[reason] += 1 }
        precondition(after == expected, "\(result): drop counters do not match it")
    }

    /// Encrypts `input` as an inner packet with the initiator's session and decrypts it at the
    /// responder; the outcome must match `expectedInnerResult`.
    private func checkInnerPacket(_ input: UnsafeRawBufferPointer) {
        guard initiator.bufferCapacity(forPacketLength: input.count) <= buffer.count else { return }
        UnsafeMutableRawBufferPointer(rebasing: buffer[16 ..< 16 + input.count]).copyMemory(from: input)
        let sealed = initiator.encapsulate(packetLength: input.count, in: buffer, for: responderID, now: Self.now,
                                           output: { _ in })
        guard case .writeToNetwork(let range, _) = sealed else { fatalError("harness: no session to send on: \(sealed)") }
        let message = UnsafeMutableRawBufferPointer(rebasing: buffer[range])
        let before = responder.drops
        let result = responder.decapsulate(message, from: Self.initiatorEndpoint, now: Self.now, output: { _ in })
        checkCounted(result, before: before, after: responder.drops)
        let expected = expectedInnerResult(input, paddedLength: range.count - 32)
        precondition(result == expected, "inner packet: got \(result), a naive model says \(expected)")
        if case .writeToTunnel(let inner, _) = result {
            for offset in inner {
                let sent = offset - 16 < input.count ? input[offset - 16] : 0
                precondition(message[offset] == sent, "inner packet byte \(offset - 16) changed in transit")
            }
        }
    }

    /// What the responder should make of an authentic transport message carrying `input` padded
    /// with zeros to `paddedLength` (§5.4.6): a keepalive, an IP packet whose header length fits
    /// and whose source the initiator may use (§2), or a drop.
    private func expectedInnerResult(_ input: UnsafeRawBufferPointer, paddedLength: Int) -> WireGuard.DecapsulateResult {
        func byte(_ offset: Int) -> UInt8 { offset < input.count ? input[offset] : 0 }
        func word(_ offset: Int) -> Int { Int(byte(offset)) << 8 | Int(byte(offset + 1)) }
        func bytes(_ range: Range<Int>) -> [UInt8] { range.map(byte) }
        if input.isEmpty { return .done }
        let peer = initiatorID
        switch byte(0) >> 4 {
        case 4:
            let length = word(2)
            guard paddedLength >= 20, length >= 20, length <= paddedLength else { return .drop(.invalidInnerPacket) }
            let allowed = bytes(12 ..< 16) == [10, 100, 0, 1]
            return allowed ? .writeToTunnel(16 ..< 16 + length, peer: peer) : .drop(.sourceNotAllowed)
        case 6:
            let length = 40 + word(4)
            guard paddedLength >= 40, length <= paddedLength else { return .drop(.invalidInnerPacket) }
            let allowed = bytes(8 ..< 24) == [0xFD] + [UInt8](repeating: 0, count: 14) + [1]
            return allowed ? .writeToTunnel(16 ..< 16 + length, peer: peer) : .drop(.sourceNotAllowed)
        default:
            return .drop(.invalidInnerPacket)
        }
    }

    // MARK: Setup helpers

    /// Encapsulates `packet` at `device` for `peer`; returns what it sent (the message itself when a
    /// session exists, otherwise the handshake initiation it started).
    private func send(_ packet: [UInt8], from device: Device, to peer: WireGuard.PeerID, at now: WireGuard.Instant = now,
                      expectingSession: Bool) -> [[UInt8]] {
        var sent: [[UInt8]] = []
        UnsafeMutableRawBufferPointer(rebasing: buffer[16 ..< 16 + packet.count]).copyBytes(from: packet)
        let result = device.encapsulate(packetLength: packet.count, in: buffer, for: peer, now: now) {
            if case .datagram(let bytes, _) = $0 { sent.append(Array(bytes)) }
        }
        switch result {
        case .writeToNetwork(let range, _) where expectingSession: sent.append(Array(buffer[range]))
        case .staged where !expectingSession: break
        default: fatalError("harness: encapsulate gave \(result)")
        }
        return sent
    }

    /// Delivers a setup datagram; returns the datagrams the device answered with.
    private func deliver(_ datagram: [UInt8], to device: Device, from source: Endpoint = Harness.initiatorEndpoint,
                         at now: WireGuard.Instant = now, expect expected: WireGuard.DecapsulateResult) -> [[UInt8]] {
        var sent: [[UInt8]] = []
        var bytes = datagram
        let result = bytes.withUnsafeMutableBytes { raw in
            device.decapsulate(raw, from: source, now: now) {
                if case .datagram(let reply, _) = $0 { sent.append(Array(reply)) }
            }
        }
        precondition(result == expected, "harness: handshake step gave \(result), expected \(expected)")
        return sent
    }

    /// A little-endian receiver or sender index.
    static func index(in message: [UInt8], at offset: Int) -> UInt32 {
        message.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    static func ipv4Packet(from source: IPv4Address, to destination: IPv4Address, payload: [UInt8]) -> [UInt8] {
        var packet = [0x45, 0, UInt8((20 + payload.count) >> 8), UInt8((20 + payload.count) & 0xFF),
                      0, 0, 0, 0, 64, 17, 0, 0] + [UInt8](repeating: 0, count: 8) + payload
        packet.withUnsafeMutableBytes { raw in
            source.store(into: raw, atByteOffset: 12)
            destination.store(into: raw, atByteOffset: 16)
        }
        return packet
    }

    static func ipv6Packet(from source: IPv6Address, to destination: IPv6Address, payload: [UInt8]) -> [UInt8] {
        var packet = [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF), 17, 64]
            + [UInt8](repeating: 0, count: 32) + payload
        packet.withUnsafeMutableBytes { raw in
            source.store(into: raw, atByteOffset: 8)
            destination.store(into: raw, atByteOffset: 24)
        }
        return packet
    }
}

private extension Array where Element == [UInt8] {
    /// The one datagram a setup step must have produced.
    func only(_ what: String) -> [UInt8] {
        guard count == 1 else { fatalError("harness: expected one \(what), got \(count) datagrams") }
        return self[0]
    }
}
