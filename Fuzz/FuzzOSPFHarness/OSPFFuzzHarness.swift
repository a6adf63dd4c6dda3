// What every OSPF fuzz target does with an input, for the packet type it fuzzes. The first byte
// of the input picks one of the target's injections (a state of R and a peer); the rest is a
// packet body:
//
// 1. The body, wrapped in a valid header of the target's type (RFC 2328 §A.3.1: length,
//    checksum §D.4.1, or the HMAC-SHA-256 trailer of RFC 5709), goes through the parser alone:
//    it parses or throws a body error; what parses re-encodes to a packet that parses to the
//    same value, byte for byte where the encoding is canonical (the target says when).
// 2. The same packet goes to R rebuilt in the picked state (`OSPFLab`), from the picked peer.
//    For Link State Updates, it goes again with the LSAs' LS checksums (§12.1.7) fixed up, so
//    that mutated LSAs get past §13 step 1 into flooding, installation and SPF.
// 3. The body as a whole packet, header included, goes to R on each of its networks.
//
// After each injection: the packet is counted exactly once, as received or under one drop
// reason, and a packet the parser rejects is dropped for the parser's reason; every packet R
// sends parses, authenticates and carries only LSAs with valid LS checksums; every LSA in the
// database has a valid LS checksum, a well-formed body and a consistent length; and once the
// SPF timer has fired, the routing table is consistent with the route actions. Each target adds
// checks of its own.
//
// Routers are rebuilt by replay and cached per state; a cached router is reused only while the
// inputs it saw were dropped before any processing (nothing received, nothing emitted), which
// leaves it unchanged apart from its drop counters. Every input thus meets R in the same state,
// and a crash reproduces from its input alone.

import Glibc
import WeftOSPF

/// Everything a target's own check may look at after one injection.
public struct OSPFFuzzObservation {
    public let stage: OSPFLabStage
    public let peer: OSPFLabPeer
    public let router: OSPFRouter
    /// The packet as R received it.
    public let packet: [UInt8]
    /// Its body.
    public let body: OSPFPacketBody
    /// R before and after. Both are taken only for packets R accepted.
    public let before: OSPFSnapshot
    public let after: OSPFSnapshot
    public let actions: [OSPFAction]
    /// The drops counted while R processed the packet (for an update: per LSA).
    public let drops: [OSPFDropReason]
    public let now: OSPFInstant

    /// The packets R sent in answer, decoded.
    public var sentBodies: [OSPFPacketBody] {
        actions.compactMap {
            guard case .send(let packet) = $0 else { return nil }
            return try? OSPFPacket.parse(packet.bytes).packet.body
        }
    }

    /// The state of the peer as R's neighbor before and after (nil when not a neighbor).
    public var neighborStates: (before: OSPFNeighborState?, after: OSPFNeighborState?) {
        func state(_ snapshot: OSPFSnapshot) -> OSPFNeighborState? {
            snapshot.neighbors.first { $0.interface == peer.interface && $0.routerID == peer.routerID }?.state
        }
        return (state(before), state(after))
    }
}

public final class OSPFFuzzHarness {
    /// The packet type this target fuzzes.
    public let type: OSPFPacketType
    /// Where its packets go: a state of R and the peer that sends them.
    public let injections: [(stage: OSPFLabStage, peer: OSPFLabPeer)]
    /// Whether a decoded body must re-encode to exactly the input (the encoding is canonical).
    let isCanonical: (OSPFPacketBody, [UInt8]) -> Bool
    /// The target's own check after an accepted packet.
    let check: (OSPFFuzzObservation) -> Void

    let lab = OSPFLab()
    /// Routers rebuilt per state, with their snapshot at the injection time.
    private var cache: [OSPFLabStage: (router: OSPFRouter, now: OSPFInstant, snapshot: OSPFSnapshot)] = [:]
    /// A sequence number above anything the higher neighbor used during the setup (§D.4.3).
    static let cryptographicSequenceNumber: UInt32 = 1_000_000
    /// The largest OSPF packet an IPv4 datagram can carry.
    static let maximumPacket = 65535 - 20

    public init(type: OSPFPacketType, injections: [(stage: OSPFLabStage, peer: OSPFLabPeer)],
                isCanonical: @escaping (OSPFPacketBody, [UInt8]) -> Bool,
                check: @escaping (OSPFFuzzObservation) -> Void = { _ in }) {
        self.type = type
        self.injections = injections
        self.isCanonical = isCanonical
        self.check = check
    }

    /// Runs one input through all three paths.
    public func run(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let input = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        let trailerRoom = OSPFLab.hmacAuthentication.trailerLength
        let body = [UInt8](UnsafeRawBufferPointer(rebasing: input.prefix(Self.maximumPacket - 24 - trailerRoom)))
        checkParser(body)

        let (stage, peer) = injections[Int(selector) % injections.count]
        if lab.reached(stage) {
            inject(Self.wrap(body, type: type, from: peer), stage: stage, peer: peer, expectParse: true)
            if type == .linkStateUpdate {
                let fixed = Self.withValidLSAChecksums(body)
                if fixed != body { inject(Self.wrap(fixed, type: type, from: peer), stage: stage, peer: peer, expectParse: true) }
            }
        }
        let raw = [UInt8](UnsafeRawBufferPointer(rebasing: input.prefix(Self.maximumPacket)))
        for peer in OSPFLabPeer.allCases {
            inject(raw, stage: .converged, peer: peer, expectParse: false)
        }
    }

    /// A packet of this target's type from `peer` with `body`, sealed as the peer's network
    /// requires.
    public static func wrap(_ body: [UInt8], type: OSPFPacketType, from peer: OSPFLabPeer) -> [UInt8] {
        let length = 24 + body.count
        let id = peer.routerID.rawValue
        var bytes: [UInt8] = [2, type.rawValue, UInt8(length >> 8), UInt8(truncatingIfNeeded: length),
                              UInt8(id >> 24), UInt8(truncatingIfNeeded: id >> 16),
                              UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
        bytes += [UInt8](repeating: 0, count: 16)  // area 0.0.0.0, checksum, AuType, Authentication
        bytes.reserveCapacity(length + OSPFLab.hmacAuthentication.trailerLength)
        bytes += body
        peer.authentication.seal(&bytes, sequenceNumber: cryptographicSequenceNumber)
        return bytes
    }

    /// The body of a Link State Update with the LS checksum of every LSA it frames recomputed.
    static func withValidLSAChecksums(_ body: [UInt8]) -> [UInt8] {
        var body = body
        var offset = 4
        // Each LSA is at least 20 bytes: at most body.count / 20 of them.
        for _ in 0..<(body.count / 20) {
            guard offset + 20 <= body.count else { break }
            let length = Int(body[offset + 18]) << 8 | Int(body[offset + 19])
            guard length >= 20, offset + length <= body.count else { break }
            var lsa = Array(body[offset..<offset + length])
            OSPFFletcher.checksum(lsa: &lsa)
            body[offset + 16] = lsa[16]
            body[offset + 17] = lsa[17]
            offset += length
        }
        return body
    }

    // MARK: Path 1: the parser alone

    private func checkParser(_ body: [UInt8]) {
        let packet = Self.wrap(body, type: type, from: .lowerNeighbor)
        let parsed: OSPFPacket
        do {
            parsed = try OSPFPacket.parse(packet).packet
        } catch {
            precondition(error == .badLength || error == .badLSA, "body rejected with a header reason \(error)")
            return
        }
        precondition(parsed.body.type == type && parsed.routerID == OSPFLabPeer.lowerNeighbor.routerID)
        let encoded = parsed.serialized()
        // LSAs of unknown LS types are skipped on input and so absent from the re-encoding.
        var expected = parsed
        if case .linkStateUpdate(var update) = parsed.body {
            update.skippedUnknownTypes = 0
            expected.body = .linkStateUpdate(update)
        }
        precondition((try? OSPFPacket.parse(encoded).packet) == expected,
                     "re-encoding does not parse back to the same packet")
        if isCanonical(parsed.body, body) {
            precondition(Array(encoded[24...]) == body, "canonical body does not re-encode byte for byte")
        }
    }

    // MARK: Paths 2 and 3: the router

    private func router(at stage: OSPFLabStage) -> (router: OSPFRouter, now: OSPFInstant, snapshot: OSPFSnapshot) {
        if let cached = cache[stage] { return cached }
        guard let (router, now) = lab.router(at: stage) else { preconditionFailure("stage \(stage) not reached") }
        let entry = (router, now, router.snapshot(now: now))
        cache[stage] = entry
        return entry
    }

    private func inject(_ packet: [UInt8], stage: OSPFLabStage, peer: OSPFLabPeer, expectParse: Bool) {
        let (router, now, before) = router(at: stage)
        let countersBefore = router.counters
        let actions = router.receive(packet, on: peer.interface, from: peer.address, to: .allSPFRouters, now: now)
        let counters = router.counters

        // Counted exactly once: received, or dropped under one reason (LSAs inside an accepted
        // update may add drops of their own, §13 steps 1–2, 5a).
        let received = zip(counters.received, countersBefore.received).map { $0 &- $1 }
        let dropped = zip(counters.dropped, countersBefore.dropped).map { $0 &- $1 }
        let receivedCount = received.reduce(0, +)
        let droppedCount = dropped.reduce(0, +)
        precondition(receivedCount <= 1, "one packet counted as received \(receivedCount) times")
        if receivedCount == 0 {
            precondition(droppedCount == 1 && actions.isEmpty, "rejected packet: \(droppedCount) drops, \(actions.count) actions")
        }

        // A header the parser rejects is dropped for the parser's reason: nothing comes before it.
        do { _ = try OSPFPacketHeader.parse(packet) } catch {
            precondition(receivedCount == 0 && counters[error] == countersBefore[error] + 1,
                         "bad header (\(error)) not dropped for that reason")
            return
        }
        let parsed: OSPFPacket
        do {
            parsed = try OSPFPacket.parse(packet).packet
        } catch {
            // A bad body is never processed. A wrapped packet has a valid header and
            // authentication, so its drop must be the parser's.
            precondition(receivedCount == 0, "packet with a bad body (\(error)) was processed")
            if expectParse {
                precondition(counters[error] == countersBefore[error] + 1, "bad body dropped, but not for \(error)")
            }
            return
        }
        if expectParse {
            precondition(receivedCount == 1 || counters[.unknownNeighbor] == countersBefore[.unknownNeighbor] + 1,
                         "well-formed packet from a valid sender dropped")
        }
        guard receivedCount == 1 else { return }
        precondition(received[Int(parsed.body.type.rawValue) - 1] == 1, "counted under another type")
        if case .linkStateUpdate(let update) = parsed.body {
            precondition(droppedCount <= 1 + UInt64(update.lsas.count + update.skippedUnknownTypes))
        } else {
            precondition(droppedCount <= 1)
        }
        let drops = zip(OSPFDropReason.allCases, dropped).filter { $0.1 > 0 }.map(\.0)

        // The router may have changed: rebuild it for the next input.
        cache[stage] = nil
        checkSentPackets(actions)
        checkDatabase(router, now: now)
        let after = router.snapshot(now: now)
        check(OSPFFuzzObservation(stage: stage, peer: peer, router: router, packet: packet, body: parsed.body,
                                  before: before, after: after, actions: actions, drops: drops, now: now))

        // Let the SPF timer fire (RFC 2328 §16), with whatever the packet did to the database.
        var table = Dictionary(uniqueKeysWithValues: router.routingTable.map { ($0.prefix, $0) })
        let later = now + router.configuration.spfDelay
        let tickActions = router.tick(now: later)
        checkSentPackets(tickActions)
        checkDatabase(router, now: later)
        for action in tickActions {
            switch action {
            case .installRoute(let route): table[route.prefix] = route
            case .removeRoute(let prefix): table[prefix] = nil
            default: break
            }
        }
        checkRoutingTable(router.routingTable, replayed: table)
    }

    /// Everything R sends is a well-formed, authentic packet whose LSAs have valid checksums.
    private func checkSentPackets(_ actions: [OSPFAction]) {
        for case .send(let outbound) in actions {
            guard let peer = OSPFLabPeer.allCases.first(where: { $0.interface == outbound.interface }) else {
                preconditionFailure("packet sent on unknown interface \(outbound.interface)")
            }
            let parsed: (header: OSPFPacketHeader, packet: OSPFPacket)
            do { parsed = try OSPFPacket.parse(outbound.bytes) } catch {
                preconditionFailure("R sent a packet that does not parse: \(error)")
            }
            precondition(parsed.header.type == outbound.type && parsed.packet.routerID == OSPFLab.routerID)
            precondition(Int(parsed.header.length) + peer.authentication.trailerLength == outbound.bytes.count,
                         "length field disagrees with the packet")
            precondition(peer.authentication.verify(outbound.bytes, header: parsed.header) == nil,
                         "R sent a packet that does not authenticate")
            if case .linkStateUpdate(let update) = parsed.packet.body {
                for lsa in update.lsas {
                    precondition(lsa.hasValidChecksum, "R sent an LSA with a bad LS checksum: \(lsa.key)")
                }
            }
        }
    }

    /// Every LSA in the database verifies and decodes (§13 steps 1–2 keep the others out).
    private func checkDatabase(_ router: OSPFRouter, now: OSPFInstant) {
        for entry in router.databaseSnapshot(now: now) {
            guard let lsa = router.lsa(entry.key, now: now) else { preconditionFailure("listed LSA \(entry.key) missing") }
            precondition(lsa.hasValidChecksum, "LSA \(entry.key) in the database has a bad LS checksum")
            precondition(lsa.hasWellFormedBody, "LSA \(entry.key) in the database is malformed")
            precondition(Int(lsa.header.length) == 20 + lsa.body.count && lsa.header.checksum == entry.checksum)
            precondition(lsa.header.age <= OSPFConstants.maxAge)
        }
    }

    /// The table is sorted by prefix, with sorted, distinct next hops on R's own interfaces,
    /// and equals the table the route actions build.
    private func checkRoutingTable(_ routes: [OSPFRoute], replayed: [OSPFPrefix: OSPFRoute]) {
        for (previous, route) in zip(routes, routes.dropFirst()) {
            precondition(previous.prefix < route.prefix, "routing table not sorted or has duplicates")
        }
        for route in routes {
            precondition(route.nextHops.allSatisfy { OSPFLab.interfaces.contains($0.interface) })
            for (a, b) in zip(route.nextHops, route.nextHops.dropFirst()) {
                precondition(a < b, "next hops of \(route.prefix) not sorted and distinct")
            }
        }
        precondition(replayed == Dictionary(uniqueKeysWithValues: routes.map { ($0.prefix, $0) }),
                     "route actions do not add up to the routing table")
    }

    // MARK: Seeds and the reproducer

    /// Real packets of this target's type from the setup, each with the selector of the
    /// injection closest to where R received it (same peer, latest state before): the bodies,
    /// and one whole packet for the path that fuzzes headers too.
    public var seeds: [(name: String, bytes: [UInt8])] {
        var result: [(String, [UInt8])] = []
        var seen: Set<[UInt8]> = []
        for received in lab.receivedPackets where received.type == type {
            guard let header = try? OSPFPacket.parse(received.bytes).header else { continue }
            let body = Array(received.bytes[24..<Int(header.length)])
            let candidates = injections.indices.filter {
                injections[$0].peer == received.peer && lab.steps(to: injections[$0].stage) ?? .max <= received.step
            }
            let selector = candidates.max { lab.steps(to: injections[$0].stage)! < lab.steps(to: injections[$1].stage)! }
                ?? injections.firstIndex { $0.peer == received.peer } ?? 0
            guard seen.insert([UInt8(selector)] + body).inserted else { continue }
            result.append(("body-\(received.peer.rawValue)-\(seen.count)", [UInt8(selector)] + body))
            if !result.contains(where: { $0.0.hasPrefix("packet-") }) {
                result.append(("packet-\(received.peer.rawValue)", [UInt8(selector)] + received.bytes))
            }
        }
        return result
    }

    /// Without `-DFUZZING`, a target's `main`: runs the checks on each file named on the command
    /// line, or writes the seeds with `--write-seeds DIRECTORY`.
    public func reproduce(_ arguments: [String]) {
        var arguments = arguments.dropFirst()
        if arguments.first == "--write-seeds", let directory = arguments.dropFirst().first {
            for (name, bytes) in seeds {
                let path = "\(directory)/\(name)"
                guard let file = fopen(path, "wb"), fwrite(bytes, 1, bytes.count, file) == bytes.count,
                      fclose(file) == 0 else { fatalError("cannot write \(path)") }
            }
            return
        }
        arguments = arguments.filter { !$0.hasPrefix("-") }
        for path in arguments {
            guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
            fclose(file)
            bytes.withUnsafeBytes { run($0) }
            print("\(path): no failure")
        }
    }
}
