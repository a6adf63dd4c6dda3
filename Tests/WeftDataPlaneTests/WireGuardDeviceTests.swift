import Testing
import WeftCrypto
import WeftRouting
@testable import WeftDataPlane

/// Two devices driven against each other by passing bytes, on a manual clock.
@Suite struct WireGuardDeviceTests {
    typealias Interval = WireGuard.Interval

    // MARK: Handshake and data

    @Test func handshakeThenDataBothWays() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let packet = a.packet(to: b, payload: Array(0 ..< 100))
        let first = a.send(packet, now: pair.clock.now)
        guard case .staged = first else { Issue.record("expected staged, got \(first)"); return }

        let deliveries = pair.network.run(now: pair.clock.now)
        // initiation a→b, response b→a, the staged packet a→b.
        #expect(deliveries.map(\.datagram.bytes.count) == [148, 92, 16 + 128 + 16])
        #expect(deliveries.map(\.result) == [.done, .done, .writeToTunnel(16 ..< 16 + 120, peer: pair.peerA)])
        #expect(b.takeTunnel() == [packet])
        #expect(a.takeEvents().contains { if case .handshakeCompleted(pair.peerB) = $0 { true } else { false } })
        #expect(b.takeEvents().contains { if case .handshakeCompleted(pair.peerA) = $0 { true } else { false } })

        // Both sides now send directly.
        let reply = b.packet(to: a, payload: [1, 2, 3])
        let result = b.send(reply, now: pair.clock.now)
        guard case .writeToNetwork(let range, let destination) = result else { Issue.record("\(result)"); return }
        #expect(range == 0 ..< 16 + 32 + 16)     // 23 bytes padded to 32
        #expect(destination == a.endpoint)
        pair.network.run(now: pair.clock.now)
        #expect(a.takeTunnel() == [reply])

        let again = a.packet(to: b, payload: [9])
        a.send(again, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel() == [again])
    }

    @Test func responderCanInitiateToo() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let packet = b.packet(to: a)
        b.send(packet, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(a.takeTunnel() == [packet])
        a.send(a.packet(to: b), now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel().count == 1)
    }

    @Test func ipv6InnerPackets() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let source = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 1)
        let destination = IPv6Address(hi: 0xFD00_0000_0000_0000, lo: 2)
        a.device.addAllowedIP(.v6(IPv6Prefix(host: destination)), to: pair.peerB)
        b.device.addAllowedIP(.v6(IPv6Prefix(host: source)), to: pair.peerA)
        let packet = ipv6Packet(from: source, to: destination, payload: Array(repeating: 7, count: 33))
        a.send(packet, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel() == [packet])
    }

    // MARK: Keys and MACs

    static let pskOne = PresharedKey(rawBytes: Bytes32([UInt8](repeating: 1, count: 32))!)
    static let pskTwo = PresharedKey(rawBytes: Bytes32([UInt8](repeating: 2, count: 32))!)

    @Test func presharedKeyOnBothSides() throws {
        let pair = try Pair(pskA: Self.pskOne, pskB: Self.pskOne)
        pair.establish()
        #expect(pair.b.takeTunnel().count == 1)
    }

    /// The PSK enters at the response (§5.4.3): a mismatch fails where the initiator opens it.
    @Test(arguments: [(pskOne, pskTwo), (pskOne, PresharedKey.zero), (PresharedKey.zero, pskTwo)])
    func mismatchedPresharedKeysFail(pskA: PresharedKey, pskB: PresharedKey) throws {
        let pair = try Pair(pskA: pskA, pskB: pskB)
        let deliveries = pair.establish()
        #expect(deliveries.map(\.result) == [.done, .drop(.handshakeDecryptionFailed)])
        #expect(pair.a.device.drops[.handshakeDecryptionFailed] == 1)
        #expect(pair.b.takeTunnel().isEmpty)
        #expect(pair.a.device.statistics(of: pair.peerB)?.handshakesCompleted == 0)
    }

    @Test func invalidMAC1IsDroppedBeforeAnyDiffieHellman() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        a.send(a.packet(to: b), now: pair.clock.now)
        let initiation = try #require(a.takeOutbox().first)

        var flippedMAC = initiation
        flippedMAC.bytes[120] ^= 1
        #expect(b.receive(flippedMAC, now: pair.clock.now) == .drop(.invalidMAC1))
        var flippedBody = initiation
        flippedBody.bytes[50] ^= 1                      // mac1 covers the whole message
        #expect(b.receive(flippedBody, now: pair.clock.now) == .drop(.invalidMAC1))
        // Addressed to b, so a third device's key does not fit mac1.
        let c = Node(host: 3, seed: 77, clock: pair.clock)
        #expect(c.receive(initiation, now: pair.clock.now) == .drop(.invalidMAC1))
        #expect(b.takeOutbox().isEmpty && c.takeOutbox().isEmpty)
        #expect(b.device.drops[.invalidMAC1] == 2)

        #expect(b.receive(initiation, now: pair.clock.now) == .done)
    }

    /// Under load (§5.3) the initiation gets a cookie reply; the retransmission carries
    /// mac2 = MAC(cookie, msgβ) and is accepted. The cookie is checked against §5.4.7 by hand.
    @Test func cookieReplyUnderLoadThenRetryWithMAC2() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        b.device.isUnderLoad = true
        let packet = a.packet(to: b)
        a.send(packet, now: pair.clock.now)
        let first = pair.network.run(now: pair.clock.now)
        #expect(first.map(\.datagram.bytes.count) == [148, 64])
        #expect(first.map(\.result) == [.drop(.cookieRequired), .done])
        #expect(b.device.drops[.cookieRequired] == 1)

        // Open the cookie as the whitepaper says: XAEAD(HASH(LABEL_COOKIE || S_pub_b), nonce, τ, mac1).
        let initiation = first[0].datagram.bytes
        let reply = first[1].datagram.bytes
        #expect(Array(reply[0 ..< 8]) == [3, 0, 0, 0] + Array(initiation[4 ..< 8]))
        let key = WireGuardNoiseTests.Paper.hash(Array("cookie--".utf8) + b.publicKey.raw.array)
        var cookie = [UInt8](repeating: 0, count: 16)
        let opened = key.withUnsafeBytes { k in
            Array(reply[32 ..< 64]).withUnsafeBytes { c in Array(reply[8 ..< 32]).withUnsafeBytes { n in
                Array(initiation[116 ..< 132]).withUnsafeBytes { ad in
                    cookie.withUnsafeMutableBytes { XChaChaPoly.open(c, into: $0, additionalData: ad, nonce: n, key: k) }
                } } }
        }
        #expect(opened)

        // a retries after REKEY_TIMEOUT with mac2.
        let retry = pair.advance(.seconds(6))
        let retried = try #require(retry.first { $0.datagram.type == .handshakeInitiation })
        #expect(Array(retried.datagram.bytes[132 ..< 148])
            == WireGuardNoiseTests.Paper.mac(cookie, Array(retried.datagram.bytes[0 ..< 132])))
        #expect(retried.result == .done)
        #expect(b.takeTunnel() == [packet])
    }

    /// The load indication lingers for a second after the driver clears it.
    @Test func underLoadLingersForOneSecond() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        b.device.isUnderLoad = true
        a.send(a.packet(to: b), now: pair.clock.now)
        let initiation = try #require(a.takeOutbox().first)
        #expect(b.receive(initiation, now: pair.clock.now) == .drop(.cookieRequired))
        b.device.isUnderLoad = false
        pair.clock.advance(milliseconds: 900)
        #expect(b.receive(initiation, now: pair.clock.now) == .drop(.cookieRequired))
        pair.clock.advance(milliseconds: 200)
        #expect(b.receive(initiation, now: pair.clock.now) == .done)
    }

    @Test func replayedInitiationIsRejected() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        a.send(a.packet(to: b), now: pair.clock.now)
        let initiation = try #require(a.takeOutbox().first)
        #expect(b.receive(initiation, now: pair.clock.now) == .done)
        #expect(b.takeOutbox().count == 1)
        pair.clock.advance(seconds: 1)
        #expect(b.receive(initiation, now: pair.clock.now) == .drop(.staleTimestamp))
        #expect(b.takeOutbox().isEmpty)
        #expect(b.device.drops[.staleTimestamp] == 1)
    }

    /// A newer timestamp is not enough: at most 50 initiations per second per peer.
    @Test func initiationFloodIsRejected() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        // The same key on a second device whose clock is ahead: newer timestamps than a's.
        let twin = Node(host: 3, seed: 9, clock: pair.clock, privateKey: a.privateKey)
        twin.device.setWallClock(WireGuard.WallClockAnchor(unixNanoseconds: 1_700_000_005_000_000_000, at: pair.clock.now))
        try twin.addPeer(b, now: pair.clock.now)

        a.send(a.packet(to: b), now: pair.clock.now)
        #expect(b.receive(try #require(a.takeOutbox().first), now: pair.clock.now) == .done)
        pair.clock.advance(milliseconds: 10)
        twin.send(twin.packet(to: b), now: pair.clock.now)
        let fresh = try #require(twin.takeOutbox().first)
        #expect(b.receive(fresh, now: pair.clock.now) == .drop(.handshakeFlood))
        pair.clock.advance(milliseconds: 20)
        #expect(b.receive(fresh, now: pair.clock.now) == .done)
        #expect(b.device.endpoint(of: pair.peerA) == twin.endpoint)
    }

    // MARK: Sessions over time

    /// §6.2: the initiator rekeys when sending on a session older than REKEY_AFTER_TIME; packets
    /// in flight on the old session still decrypt after the new one takes over.
    @Test func rekeyAfterRekeyAfterTime() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        pair.advance(.seconds(121), step: .seconds(1))
        _ = (a.takeTunnel(), b.takeTunnel())
        let oldSession = try #require(a.device.peer(pair.peerB)?.keypairs.current)

        let inFlightPacket = a.packet(to: b, payload: [1])
        let result = a.send(inFlightPacket, now: pair.clock.now)
        guard case .writeToNetwork = result else { Issue.record("\(result)"); return }
        let sent = a.takeOutbox()
        #expect(sent.map(\.type) == [.handshakeInitiation, .transportData])
        let inFlight = sent[1]
        // b also has a packet in flight on the old session.
        let fromB = b.packet(to: a, payload: [2])
        b.send(fromB, now: pair.clock.now)
        let bInFlight = try #require(b.takeOutbox().first)

        // The handshake completes first (initiation, response, a's keepalive confirms).
        #expect(b.receive(sent[0], now: pair.clock.now) == .done)
        pair.network.run(now: pair.clock.now)
        let newSession = try #require(a.device.peer(pair.peerB)?.keypairs.current)
        #expect(newSession !== oldSession)
        #expect(a.device.peer(pair.peerB)?.keypairs.previous === oldSession)
        #expect(b.device.peer(pair.peerA)?.keypairs.next == nil)      // confirmed

        // Then the old packets arrive, and still decrypt.
        #expect(b.receive(inFlight, now: pair.clock.now) == .writeToTunnel(16 ..< 16 + inFlightPacket.count, peer: pair.peerA))
        #expect(a.receive(bInFlight, now: pair.clock.now) == .writeToTunnel(16 ..< 16 + fromB.count, peer: pair.peerB))

        // New traffic uses the new session both ways.
        a.send(a.packet(to: b), now: pair.clock.now)
        b.send(b.packet(to: a), now: pair.clock.now)
        let outgoing = a.outbox + b.outbox
        #expect(outgoing.allSatisfy { $0.type == .transportData })
        pair.network.run(now: pair.clock.now)
        #expect(a.takeTunnel().count == 2 && b.takeTunnel().count == 2)
        #expect(a.device.statistics(of: pair.peerB)?.handshakesCompleted == 2)
    }

    /// §6.1: nothing is sent or accepted on a session older than REJECT_AFTER_TIME.
    @Test func sessionOlderThanRejectAfterTimeIsNotUsed() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let established = pair.establish()
        let oldData = try #require(established.last?.datagram)
        // b holds one packet back; then the network goes down for three minutes.
        b.send(b.packet(to: a), now: pair.clock.now)
        let late = try #require(b.takeOutbox().first)
        pair.advance(.seconds(180), step: .seconds(1), filter: { _ in nil })

        #expect(a.receive(late, now: pair.clock.now) == .drop(.expiredSession))
        #expect(b.receive(oldData, now: pair.clock.now) == .drop(.expiredSession))
        #expect(a.send(a.packet(to: b), now: pair.clock.now).isStaged)
        #expect(a.takeOutbox().map(\.type) == [.handshakeInitiation])
        #expect(b.send(b.packet(to: a), now: pair.clock.now).isStaged)
    }

    /// §6.3: 3 × REJECT_AFTER_TIME after the last session, all key material is erased.
    @Test func keysAreErasedAfterThreeTimesRejectAfterTime() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let established = pair.establish()
        let data = try #require(established.last?.datagram)
        _ = (a.takeEvents(), b.takeEvents(), b.takeTunnel())
        pair.advance(.seconds(539), step: .seconds(1))
        #expect(a.takeEvents().isEmpty && b.takeEvents().isEmpty)
        pair.advance(.seconds(2), step: .seconds(1))
        #expect(a.takeEvents().map(\.isSessionExpired) == [true])
        #expect(b.takeEvents().map(\.isSessionExpired) == [true])
        #expect(a.device.peer(pair.peerB)?.keypairs.isEmpty == true)
        #expect(b.device.peer(pair.peerA)?.keypairs.isEmpty == true)
        #expect(a.device.indexTable.count == 0 && b.device.indexTable.count == 0)
        #expect(b.receive(data, now: pair.clock.now) == .drop(.unknownIndex))
        // Traffic starts over with a handshake.
        a.send(a.packet(to: b), now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel().count == 1)
    }

    /// §6.4: a lost response is retried every REKEY_TIMEOUT (+ up to 333 ms jitter); after
    /// REKEY_ATTEMPT_TIME the peer is given up and its waiting packets dropped.
    @Test func lostResponsesAreRetriedThenGivenUp() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let start = pair.clock.now
        a.send(a.packet(to: b), now: pair.clock.now)
        let noResponses: (Datagram) -> Datagram? = { $0.type == .handshakeResponse ? nil : $0 }
        var initiations: [WireGuard.Interval] = []
        var failedAt: WireGuard.Interval?
        func deliver() {
            for delivery in pair.network.run(now: pair.clock.now, filter: noResponses)
            where delivery.datagram.type == .handshakeInitiation {
                initiations.append(pair.clock.now.since(start))
            }
            if a.takeEvents().contains(where: \.isHandshakeFailed) { failedAt = pair.clock.now.since(start) }
        }
        deliver()
        for _ in 0 ..< 1500 {        // 150 s in 100 ms steps
            pair.clock.advance(milliseconds: 100)
            a.tick(now: pair.clock.now)
            b.tick(now: pair.clock.now)
            deliver()
        }
        #expect(initiations.count == WireGuard.maxTimerHandshakes + 2)
        for (earlier, later) in zip(initiations, initiations.dropFirst()) {
            let gap = later.nanoseconds - earlier.nanoseconds
            #expect(gap >= 5_000_000_000 && gap <= 5_433_000_000, "gap \(gap)")
        }
        let failed = try #require(failedAt)
        #expect(failed >= WireGuard.rekeyAttemptTime && failed <= .seconds(110))
        let stats = try #require(a.device.statistics(of: pair.peerB))
        #expect(stats.handshakesFailed == 1 && stats.handshakesInitiated == 20 && stats.stagedPacketsDropped == 1)
        #expect(a.device.drops[.handshakeTimeout] == 1)
    }

    /// §6.5: data sent without any answer for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT starts a new handshake.
    @Test func newHandshakeWhenSentDataGetsNoAnswer() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        pair.advance(.seconds(12))                  // b's keepalive answers the first packet
        #expect(a.device.statistics(of: pair.peerB)?.handshakesInitiated == 1)
        let sentAt = pair.clock.now
        a.send(a.packet(to: b), now: pair.clock.now)
        var initiatedAt: WireGuard.Interval?
        for _ in 0 ..< 200 where initiatedAt == nil {        // up to 20 s
            let deliveries = pair.advance(.milliseconds(100), filter: { $0.from == b.endpoint ? nil : $0 })
            if deliveries.contains(where: { $0.datagram.type == .handshakeInitiation && $0.datagram.from == a.endpoint }) {
                initiatedAt = pair.clock.now.since(sentAt)
            }
        }
        let delay = try #require(initiatedAt)
        #expect(delay >= .seconds(15) && delay <= .milliseconds(15_433))
    }

    /// §6.5: a peer that only receives data answers with a keepalive every KEEPALIVE_TIMEOUT,
    /// which in turn keeps the sender from starting new handshakes.
    @Test func keepaliveAfterTenSecondsOfReceiveOnlyTraffic() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        let start = pair.clock.now
        var keepalivesFromB: [WireGuard.Interval] = []
        for second in 0 ..< 30 {
            if second % 2 == 0 { a.send(a.packet(to: b), now: pair.clock.now) }
            for delivery in pair.advance(.seconds(1)) where delivery.datagram.from == b.endpoint {
                #expect(delivery.datagram.isKeepalive)
                #expect(delivery.result == .done)
                keepalivesFromB.append(pair.clock.now.since(start))
            }
        }
        #expect(keepalivesFromB.count == 3)
        #expect(keepalivesFromB.first == .seconds(10))
        #expect(a.device.statistics(of: pair.peerB)?.handshakesInitiated == 1)
        #expect(b.takeTunnel().count == 16)
    }

    @Test func persistentKeepaliveInterval() throws {
        var pair = try Pair(keepaliveA: .seconds(25))
        let (a, b) = (pair.a, pair.b)
        // The configured interval sends a keepalive at once, which needs a handshake.
        a.tick(now: pair.clock.now)
        let first = pair.network.run(now: pair.clock.now)
        #expect(first.map(\.datagram.bytes.count) == [148, 92, 32])
        let start = pair.clock.now
        var keepalives: [WireGuard.Interval] = []
        for _ in 0 ..< 100 {
            for delivery in pair.advance(.seconds(1)) where delivery.datagram.from == a.endpoint {
                #expect(delivery.datagram.isKeepalive)
                keepalives.append(pair.clock.now.since(start))
            }
        }
        #expect(keepalives == [.seconds(25), .seconds(50), .seconds(75), .seconds(100)])
        #expect(b.takeTunnel().isEmpty)
    }

    // MARK: Data path

    @Test func lostAndReorderedDataPackets() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        _ = b.takeTunnel()
        var datagrams: [Datagram] = []
        for index in 0 ..< 10 as Range<UInt8> {
            a.send(a.packet(to: b, payload: [index]), now: pair.clock.now)
            datagrams += a.takeOutbox()
        }
        for index in [0, 2, 1, 5, 4, 3, 9, 8] {         // 6 and 7 lost for now
            #expect(b.receive(datagrams[index], now: pair.clock.now).isTunnel)
        }
        #expect(b.takeTunnel().map { $0[20] } == [0, 2, 1, 5, 4, 3, 9, 8])
        #expect(b.receive(datagrams[2], now: pair.clock.now) == .drop(.replay))
        #expect(b.receive(datagrams[9], now: pair.clock.now) == .drop(.replay))
        #expect(b.receive(datagrams[7], now: pair.clock.now).isTunnel)     // late, still in the window
        #expect(b.device.drops[.replay] == 2)
    }

    @Test func tamperedDataIsDropped() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        a.send(a.packet(to: b), now: pair.clock.now)
        var datagram = try #require(a.takeOutbox().first)
        datagram.bytes[20] ^= 0x80
        #expect(b.receive(datagram, now: pair.clock.now) == .drop(.decryptionFailed))
        datagram.bytes[20] ^= 0x80
        #expect(b.receive(datagram, now: pair.clock.now).isTunnel)   // the window did not move
    }

    @Test func cryptokeyRouting() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        _ = b.takeTunnel()
        // No peer's allowed IPs hold the destination.
        let nowhere = ipv4Packet(from: a.tunnelAddress, to: IPv4Address(10, 200, 0, 1), payload: [1])
        #expect(a.send(nowhere, now: pair.clock.now).dropReason == .noRoute)
        // A spoofed inner source is refused by the receiver (§2.1).
        let spoofed = ipv4Packet(from: IPv4Address(10, 100, 0, 99), to: b.tunnelAddress, payload: [2])
        a.send(spoofed, now: pair.clock.now)
        #expect(pair.network.run(now: pair.clock.now).map(\.result) == [.drop(.sourceNotAllowed)])
        // Not an IP packet at all.
        a.send([0x50] + [UInt8](repeating: 0, count: 30), to: pair.peerB, now: pair.clock.now)
        #expect(pair.network.run(now: pair.clock.now).map(\.result) == [.drop(.invalidInnerPacket)])
        // A length field longer than the payload.
        var truncated = a.packet(to: b)
        truncated[3] = 200
        a.send(truncated, to: pair.peerB, now: pair.clock.now)
        #expect(pair.network.run(now: pair.clock.now).map(\.result) == [.drop(.invalidInnerPacket)])
        #expect(b.takeTunnel().isEmpty)
        // Allowing the source makes it pass.
        b.device.addAllowedIP(.v4(IPv4Prefix(address: IPv4Address(10, 100, 0, 0), length: 24)!), to: pair.peerA)
        a.send(spoofed, now: pair.clock.now)
        pair.network.run(now: pair.clock.now)
        #expect(b.takeTunnel() == [spoofed])
        #expect(b.device.allowedIPs(of: pair.peerA).map(\.description) == ["10.100.0.0/24", "10.100.0.1/32"])
    }

    @Test func roamingFollowsAuthenticatedPacketsOnly() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        #expect(b.device.endpoint(of: pair.peerA) == a.endpoint)
        _ = b.takeEvents()

        // a moves; its next packet comes from the new address.
        let moved = TestEndpoint(host: 9, port: 4242)
        a.endpoint = moved
        a.send(a.packet(to: b), now: pair.clock.now)
        let genuine = try #require(a.outbox.first)
        pair.network.run(now: pair.clock.now)
        #expect(b.device.endpoint(of: pair.peerA) == moved)
        #expect(b.takeEvents().contains { if case .endpointChanged(pair.peerA, moved) = $0 { true } else { false } })
        guard case .writeToNetwork(_, let destination) = b.send(b.packet(to: a), now: pair.clock.now) else {
            Issue.record("b could not send"); return
        }
        #expect(destination == moved)

        // Neither a forgery nor a replay from elsewhere moves it back.
        let attacker = TestEndpoint(host: 66)
        var forged = genuine
        forged.from = attacker
        forged.bytes[8] &+= 1                           // a fresh counter, but the tag fails
        #expect(b.receive(forged, now: pair.clock.now) == .drop(.decryptionFailed))
        var replayed = genuine
        replayed.from = attacker
        #expect(b.receive(replayed, now: pair.clock.now) == .drop(.replay))
        #expect(b.device.endpoint(of: pair.peerA) == moved)
        #expect(b.takeEvents().isEmpty)
    }

    @Test func simultaneousInitiation() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let fromA = a.packet(to: b, payload: [0xA])
        let fromB = b.packet(to: a, payload: [0xB])
        #expect(a.send(fromA, now: pair.clock.now).isStaged)
        #expect(b.send(fromB, now: pair.clock.now).isStaged)
        // Both initiations cross; each side answers the other's and drops the answer to its own.
        let crossing = pair.network.run(now: pair.clock.now)
        #expect(crossing.map(\.result) == [.done, .done, .drop(.unknownIndex), .drop(.unknownIndex)])
        // The retransmissions (jittered apart) sort it out.
        var deliveredA: [[UInt8]] = []
        var deliveredB: [[UInt8]] = []
        for _ in 0 ..< 150 where deliveredA.isEmpty || deliveredB.isEmpty {
            pair.advance(.milliseconds(100))
            deliveredA += a.takeTunnel()
            deliveredB += b.takeTunnel()
        }
        #expect(deliveredB == [fromA])
        #expect(deliveredA == [fromB])
        #expect(pair.clock.now.since(ManualClock().now) <= .seconds(6))
    }

    @Test func stagedQueueKeepsTheNewestPackets() throws {
        var clock = ManualClock()
        let a = Node(host: 1, seed: 3, clock: clock, configuration: WireGuard.DeviceConfiguration(mtu: 100, stagedPacketLimit: 4))
        let b = Node(host: 2, seed: 4, clock: clock)
        let peerB = try a.addPeer(b, now: clock.now)
        try b.addPeer(a, now: clock.now)
        let packets = (0 ..< 6 as Range<UInt8>).map { a.packet(to: b, payload: [$0]) }
        for packet in packets { #expect(a.send(packet, now: clock.now).isStaged) }
        #expect(a.device.drops[.stagedQueueFull] == 2)
        #expect(a.send(a.packet(to: b, payload: [UInt8](repeating: 0, count: 90)), now: clock.now).dropReason == .packetTooLarge)
        // Only one initiation despite six packets (REKEY_TIMEOUT between initiations).
        #expect(a.outbox.count == 1)
        clock.advance(milliseconds: 1)
        Network(nodes: [a, b]).run(now: clock.now)
        #expect(b.takeTunnel() == Array(packets[2...]))
        #expect(a.device.statistics(of: peerB)?.stagedPacketsDropped == 2)
    }

    @Test func packetsWithoutEndpointOrPeer() throws {
        let clock = ManualClock()
        let a = Node(host: 1, seed: 5, clock: clock)
        let b = Node(host: 2, seed: 6, clock: clock)
        let peer = try a.addPeer(b, endpoint: .some(nil), now: clock.now)
        #expect(a.send(a.packet(to: b), now: clock.now).dropReason == .noEndpoint)
        a.device.removePeer(peer)
        #expect(a.send(a.packet(to: b), now: clock.now).dropReason == .noRoute)
        #expect(a.send(a.packet(to: b), to: peer, now: clock.now).dropReason == .noRoute)   // stale handle
        #expect(a.device.peers.isEmpty)
        #expect(throws: WireGuard.PeerError.ownPublicKey) {
            try a.device.addPeer(WireGuard.PeerConfiguration(publicKey: a.publicKey), now: clock.now)
        }
        try a.addPeer(b, now: clock.now)
        #expect(throws: WireGuard.PeerError.duplicatePublicKey) { try a.addPeer(b, now: clock.now) }
    }

    @Test func bufferWithoutRoomForPaddingAndTag() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        let packet = a.packet(to: b)            // 25 bytes: padded to 32, needs 16 + 32 + 16
        #expect(a.device.bufferCapacity(forPacketLength: packet.count) == 64)
        var buffer = [UInt8](repeating: 0, count: 63)
        buffer.replaceSubrange(16 ..< 41, with: packet)
        let result = buffer.withUnsafeMutableBytes {
            a.device.encapsulate(packetLength: packet.count, in: $0, now: pair.clock.now, output: a.record)
        }
        #expect(result.dropReason == .bufferTooSmall)
    }

    /// Padding to 16 stops at the MTU (§5.4.6).
    @Test(arguments: [(0, 0), (1, 16), (16, 16), (17, 32), (1410, 1420), (1420, 1420), (1421, 1421 + 15)])
    func paddingIsCappedAtTheMTU(length: Int, padded: Int) throws {
        let pair = try Pair()
        #expect(pair.a.device.paddedLength(length) == padded)
    }

    @Test(arguments: [
        ([UInt8](), WireGuard.DropReason.malformed),
        ([1, 0], .malformed),
        ([9, 0, 0, 0] + [UInt8](repeating: 0, count: 60), .unknownMessageType),
        ([4, 0, 1, 0] + [UInt8](repeating: 0, count: 60), .unknownMessageType),
        ([1, 0, 0, 0] + [UInt8](repeating: 0, count: 100), .malformed),
        ([1, 0, 0, 0] + [UInt8](repeating: 0, count: 144), .invalidMAC1),
        ([2, 0, 0, 0] + [UInt8](repeating: 0, count: 88), .invalidMAC1),
        ([3, 0, 0, 0] + [UInt8](repeating: 0, count: 60), .unknownIndex),
        ([3, 0, 0, 0] + [UInt8](repeating: 0, count: 61), .malformed),
        ([4, 0, 0, 0] + [UInt8](repeating: 0, count: 20), .malformed),
        ([4, 0, 0, 0] + [UInt8](repeating: 0, count: 28), .unknownIndex),
    ])
    func badDatagramsAreDroppedWithAReason(bytes: [UInt8], reason: WireGuard.DropReason) throws {
        let pair = try Pair()
        let datagram = Datagram(bytes: bytes, from: TestEndpoint(host: 99), to: pair.b.endpoint)
        #expect(pair.b.receive(datagram, now: pair.clock.now) == .drop(reason))
        #expect(pair.b.device.drops[reason] == 1 && pair.b.device.drops.total == 1)
        #expect(pair.b.takeOutbox().isEmpty)
    }

    @Test func countersAndLastHandshake() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        let established = pair.establish()
        pair.clock.advance(seconds: 1)
        b.send(b.packet(to: a, payload: [UInt8](repeating: 1, count: 40)), now: pair.clock.now)
        let back = pair.network.run(now: pair.clock.now)
        let sizes = (established + back).map(\.datagram.bytes.count)
        #expect(sizes == [148, 92, 64, 96])

        let statsA = try #require(a.device.statistics(of: pair.peerB))
        #expect(statsA.handshakesInitiated == 1 && statsA.handshakesCompleted == 1 && statsA.handshakesFailed == 0)
        #expect(statsA.sentPackets == 1 && statsA.sentBytes == 148 + 64)
        #expect(statsA.receivedPackets == 1 && statsA.receivedBytes == 92 + 96)
        #expect(statsA.lastHandshake == ManualClock().now)
        let statsB = try #require(b.device.statistics(of: pair.peerA))
        #expect(statsB.handshakesInitiated == 0 && statsB.handshakesCompleted == 1)
        #expect(statsB.sentPackets == 1 && statsB.sentBytes == 92 + 96)
        #expect(statsB.receivedPackets == 1 && statsB.receivedBytes == 148 + 64)
        #expect(a.device.drops.total == 0 && b.device.drops.total == 0)
    }

    @Test func tickReportsTheNextDeadline() throws {
        let pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        #expect(a.tick(now: pair.clock.now) == nil)
        a.send(a.packet(to: b), now: pair.clock.now)
        let deadline = try #require(a.tick(now: pair.clock.now))
        #expect(deadline >= pair.clock.now + WireGuard.rekeyTimeout)
        #expect(deadline < pair.clock.now + WireGuard.rekeyTimeout + WireGuard.rekeyTimeoutJitterMax)
    }

    @Test func changingThePrivateKeyForcesNewHandshakes() throws {
        var pair = try Pair()
        let (a, b) = (pair.a, pair.b)
        pair.establish()
        let newKey = WireGuardNoiseTests.key(0x33)
        a.device.setPrivateKey(newKey)
        b.device.removePeer(pair.peerA)
        let newPeerA = try b.device.addPeer(WireGuard.PeerConfiguration(
            publicKey: newKey.publicKey, endpoint: a.endpoint, allowedIPs: [.v4(IPv4Prefix(host: a.tunnelAddress))]),
            now: pair.clock.now)
        // The old session no longer sends; the new handshake waits out REKEY_TIMEOUT since the last.
        pair.clock.advance(seconds: 5)
        let packet = a.packet(to: b)
        #expect(a.send(packet, now: pair.clock.now).isStaged)
        pair.network.run(now: pair.clock.now)
        #expect(b.tunnel.last?.packet == packet && b.tunnel.last?.peer == newPeerA)
    }
}

extension WireGuard.EncapsulateResult {
    var isStaged: Bool { if case .staged = self { true } else { false } }
    var dropReason: WireGuard.DropReason? { if case .drop(let reason) = self { reason } else { nil } }
}

extension WireGuard.DecapsulateResult {
    var isTunnel: Bool { if case .writeToTunnel = self { true } else { false } }
}

extension WireGuard.Event {
    var isSessionExpired: Bool { if case .sessionExpired = self { true } else { false } }
    var isHandshakeFailed: Bool { if case .handshakeFailed = self { true } else { false } }
}
