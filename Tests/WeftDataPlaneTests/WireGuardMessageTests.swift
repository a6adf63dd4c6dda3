import Testing
@testable import WeftDataPlane

/// Wire sizes and field offsets of the four messages (whitepaper §5.4).
@Suite struct WireGuardMessageTests {
    @Test func derivedWireSizes() {
        #expect(WireGuard.handshakeInitiationLength == 148)
        #expect(WireGuard.handshakeResponseLength == 92)
        #expect(WireGuard.cookieReplyLength == 64)
        #expect(WireGuard.transportHeaderLength == 16)
        #expect(WireGuard.minimumTransportLength == 32)
        #expect(WireGuard.MessageType.handshakeInitiation.fixedLength == 148)
        #expect(WireGuard.MessageType.transportData.fixedLength == nil)
    }

    @Test func protocolConstants() {
        #expect(WireGuard.rekeyAfterMessages == 1 << 60)
        #expect(WireGuard.rejectAfterMessages == UInt64.max - (1 << 13))   // 2^64 − 2^13 − 1
        #expect(WireGuard.rekeyAfterTime == .seconds(120))
        #expect(WireGuard.rejectAfterTime == .seconds(180))
        #expect(WireGuard.rekeyAttemptTime == .seconds(90))
        #expect(WireGuard.rekeyTimeout == .seconds(5))
        #expect(WireGuard.keepaliveTimeout == .seconds(10))
        #expect(WireGuard.maxTimerHandshakes == 18)
        #expect(WireGuard.zeroKeyMaterialAfter == .seconds(540))
    }

    /// Field offsets as laid out in §5.4.2, §5.4.3, §5.4.7 and §5.4.6.
    @Test func fieldOffsets() {
        typealias I = WireGuard.HandshakeInitiationMessage
        #expect([I.senderOffset, I.ephemeralOffset, I.staticOffset, I.timestampOffset] == [4, 8, 40, 88])
        typealias R = WireGuard.HandshakeResponseMessage
        #expect([R.senderOffset, R.receiverOffset, R.ephemeralOffset, R.emptyOffset] == [4, 8, 12, 44])
        typealias C = WireGuard.CookieReplyMessage
        #expect([C.receiverOffset, C.nonceOffset, C.cookieOffset] == [4, 8, 32])
        typealias T = WireGuard.TransportDataMessage
        #expect([T.receiverOffset, T.counterOffset] == [4, 8])
    }

    @Test func initiationFieldsAreLittleEndianAndMACsAtTheEnd() {
        var storage = [UInt8](repeating: 0xAA, count: 200)
        storage.withUnsafeMutableBytes { raw in
            let message = WireGuard.HandshakeInitiationMessage(initializing: raw)
            message.senderIndex = 0x1122_3344
            #expect(Array(raw[0 ..< 8]) == [1, 0, 0, 0, 0x44, 0x33, 0x22, 0x11])
            #expect(raw[148] == 0xAA)   // nothing written past the message
            #expect(message.mac1.baseAddress == raw.baseAddress! + 116)
            #expect(message.mac2.baseAddress == raw.baseAddress! + 132)
            #expect(message.bytesBeforeMAC1.count == 116)
            #expect(message.bytesBeforeMAC2.count == 132)
            #expect(WireGuard.HandshakeInitiationMessage(parsing: message.bytes)?.senderIndex == 0x1122_3344)
        }
    }

    @Test func transportHeader() {
        var storage = [UInt8](repeating: 0, count: 48)
        storage.withUnsafeMutableBytes { raw in
            let message = WireGuard.TransportDataMessage(initializingHeaderOf: raw, receiverIndex: 0xA1B2_C3D4,
                                                         counter: 0x0102_0304_0506_0708)
            #expect(Array(raw[0 ..< 16]) == [4, 0, 0, 0, 0xD4, 0xC3, 0xB2, 0xA1, 8, 7, 6, 5, 4, 3, 2, 1])
            #expect(message.ciphertext.count == 16)
            #expect(message.tag.baseAddress == raw.baseAddress! + 32)
            let parsed = WireGuard.TransportDataMessage(parsing: raw)
            #expect(parsed?.receiverIndex == 0xA1B2_C3D4)
            #expect(parsed?.counter == 0x0102_0304_0506_0708)
        }
    }

    /// Strict parsing: exact lengths, zero reserved bytes, known types.
    @Test(arguments: [
        ([UInt8](), nil),
        ([1, 0, 0], nil),
        ([1, 0, 0, 0], WireGuard.MessageType.handshakeInitiation),
        ([4, 0, 0, 0], .transportData),
        ([1, 0, 0, 1], nil),        // reserved byte set
        ([5, 0, 0, 0], nil),
        ([0, 0, 0, 0], nil),
    ] as [([UInt8], WireGuard.MessageType?)])
    func messageTypeWord(bytes: [UInt8], expected: WireGuard.MessageType?) {
        bytes.withUnsafeBytes { #expect(WireGuard.MessageType(of: $0) == expected) }
    }

    @Test func lengthsAreExact() {
        for length in [0, 4, 91, 93, 147, 149, 63, 65, 31] {
            var storage = [UInt8](repeating: 0, count: length)
            storage.withUnsafeMutableBytes { raw in
                for type in WireGuard.MessageType.allCases where length >= 4 {
                    raw.storeBytes(of: type.rawValue.littleEndian, as: UInt32.self)
                    #expect(WireGuard.HandshakeInitiationMessage(parsing: raw) == nil)
                    #expect(WireGuard.HandshakeResponseMessage(parsing: raw) == nil)
                    #expect(WireGuard.CookieReplyMessage(parsing: raw) == nil)
                    #expect((WireGuard.TransportDataMessage(parsing: raw) != nil) == (type == .transportData && length >= 32))
                }
            }
        }
        var response = [UInt8](repeating: 0, count: 92)
        response[0] = 2
        response.withUnsafeMutableBytes { raw in
            #expect(WireGuard.HandshakeResponseMessage(parsing: raw) != nil)
            #expect(WireGuard.HandshakeInitiationMessage(parsing: raw) == nil)
        }
    }
}

/// A_m (§5.4.7): the source address then port, both in network byte order; and the I/O layer's
/// endpoint reduced to it.
@Suite struct WireGuardSourceAddressTests {
    static func cookieInput(_ endpoint: Endpoint) -> [UInt8] {
        endpoint.sourceAddress.withCookieInput { Array($0) }
    }

    @Test func ipv4() throws {
        let endpoint = try #require(Endpoint("198.18.0.1:51820"))
        #expect(Self.cookieInput(endpoint) == [198, 18, 0, 1, 0xCA, 0x6C])
    }

    @Test func ipv6() throws {
        let endpoint = try #require(Endpoint("[fd00::1]:443"))
        #expect(Self.cookieInput(endpoint) == [0xFD] + [UInt8](repeating: 0, count: 14) + [1, 0x01, 0xBB])
    }

    @Test func ipv4MappedCountsAsIPv4() throws {
        let mapped = try #require(Endpoint("[::ffff:198.18.0.1]:51820"))
        let plain = try #require(Endpoint("198.18.0.1:51820"))
        #expect(mapped.sourceAddress == plain.sourceAddress)
    }
}
