// Typed views over WireGuard's four message types (whitepaper §5.4). The views borrow caller-owned
// memory, check the length exactly once when created, and read/write the little-endian fields in
// place; nothing is copied or allocated.

extension WireGuard {
    /// The message type word (§5.4): one type byte then three reserved zero bytes, compared as one
    /// little-endian 32-bit value as the kernel does, so non-zero reserved bytes make a message
    /// invalid.
    public enum MessageType: UInt32, Sendable, CaseIterable {
        case handshakeInitiation = 1
        case handshakeResponse = 2
        case cookieReply = 3
        case transportData = 4

        /// The type of `datagram`, or nil if it is shorter than the type word, the reserved
        /// bytes are not zero, or the type is unknown.
        @inlinable
        public init?(of datagram: UnsafeRawBufferPointer) {
            guard datagram.count >= WireGuard.messageTypeLength else { return nil }
            self.init(rawValue: UInt32(littleEndian: datagram.loadUnaligned(as: UInt32.self)))
        }

        /// The exact wire length of a handshake-type message; nil for transport data, whose
        /// length varies.
        public var fixedLength: Int? {
            switch self {
            case .handshakeInitiation: WireGuard.handshakeInitiationLength
            case .handshakeResponse: WireGuard.handshakeResponseLength
            case .cookieReply: WireGuard.cookieReplyLength
            case .transportData: nil
            }
        }
    }
}

extension UnsafeMutableRawBufferPointer {
    /// `count` bytes at `offset`, rebased; the caller has checked the bounds.
    func bytes(at offset: Int, count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: self[offset ..< offset + count])
    }

    func loadLittleEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func storeLittleEndian(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    func storeLittleEndian(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    /// The `length` bytes of an inner packet placed behind the transport header's 16 bytes.
    func packet(afterTransportHeader length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[WireGuard.transportHeaderLength ..< WireGuard.transportHeaderLength + length])
    }

    /// Writes the type word: the type byte and three zero reserved bytes.
    func storeMessageType(_ type: WireGuard.MessageType) {
        storeLittleEndian(type.rawValue, at: 0)
    }
}

/// The two MACs closing both handshake messages (§5.4.4): mac1 over everything before it, mac2
/// over everything before mac2.
protocol MACProtectedMessage {
    var bytes: UnsafeMutableRawBufferPointer { get }
}

extension MACProtectedMessage {
    /// The bytes mac1 covers (msgα): the message up to mac1.
    var bytesBeforeMAC1: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[0 ..< bytes.count - 2 * WireGuard.macLength])
    }
    /// The bytes mac2 covers (msgβ): the message up to mac2, mac1 included.
    var bytesBeforeMAC2: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[0 ..< bytes.count - WireGuard.macLength])
    }
    var mac1: UnsafeMutableRawBufferPointer {
        bytes.bytes(at: bytes.count - 2 * WireGuard.macLength, count: WireGuard.macLength)
    }
    var mac2: UnsafeMutableRawBufferPointer {
        bytes.bytes(at: bytes.count - WireGuard.macLength, count: WireGuard.macLength)
    }
}

extension WireGuard {
    /// Handshake initiation, type 1 (§5.4.2), 148 bytes:
    /// type(4) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16).
    struct HandshakeInitiationMessage: MACProtectedMessage {
        static let length = WireGuard.handshakeInitiationLength
        static let senderOffset = 4
        static let ephemeralOffset = senderOffset + WireGuard.indexLength
        static let staticOffset = ephemeralOffset + WireGuard.keyLength
        static let timestampOffset = staticOffset + WireGuard.keyLength + WireGuard.tagLength
        static let encryptedTimestampLength = WireGuard.timestampLength + WireGuard.tagLength

        let bytes: UnsafeMutableRawBufferPointer

        /// A view of a received message; nil unless exactly 148 bytes of type 1.
        init?(parsing bytes: UnsafeMutableRawBufferPointer) {
            guard bytes.count == Self.length,
                  MessageType(of: UnsafeRawBufferPointer(bytes)) == .handshakeInitiation else { return nil }
            self.bytes = bytes
        }

        /// A new message in the first 148 bytes of `buffer`, type word written, the rest zeroed.
        init(initializing buffer: UnsafeMutableRawBufferPointer) {
            precondition(buffer.count >= Self.length)
            bytes = buffer.bytes(at: 0, count: Self.length)
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            bytes.storeMessageType(.handshakeInitiation)
        }

        var senderIndex: UInt32 {
            get { bytes.loadLittleEndianUInt32(at: Self.senderOffset) }
            nonmutating set { bytes.storeLittleEndian(newValue, at: Self.senderOffset) }
        }
        var ephemeral: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.ephemeralOffset, count: WireGuard.keyLength)
        }
        /// AEAD of the initiator's static public key: 32 bytes of ciphertext and the tag.
        var encryptedStatic: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.staticOffset, count: WireGuard.keyLength + WireGuard.tagLength)
        }
        /// AEAD of the TAI64N timestamp: 12 bytes of ciphertext and the tag.
        var encryptedTimestamp: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.timestampOffset, count: Self.encryptedTimestampLength)
        }
    }

    /// Handshake response, type 2 (§5.4.3), 92 bytes:
    /// type(4) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16).
    struct HandshakeResponseMessage: MACProtectedMessage {
        static let length = WireGuard.handshakeResponseLength
        static let senderOffset = 4
        static let receiverOffset = senderOffset + WireGuard.indexLength
        static let ephemeralOffset = receiverOffset + WireGuard.indexLength
        static let emptyOffset = ephemeralOffset + WireGuard.keyLength

        let bytes: UnsafeMutableRawBufferPointer

        /// A view of a received message; nil unless exactly 92 bytes of type 2.
        init?(parsing bytes: UnsafeMutableRawBufferPointer) {
            guard bytes.count == Self.length,
                  MessageType(of: UnsafeRawBufferPointer(bytes)) == .handshakeResponse else { return nil }
            self.bytes = bytes
        }

        /// A new message in the first 92 bytes of `buffer`, type word written, the rest zeroed.
        init(initializing buffer: UnsafeMutableRawBufferPointer) {
            precondition(buffer.count >= Self.length)
            bytes = buffer.bytes(at: 0, count: Self.length)
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            bytes.storeMessageType(.handshakeResponse)
        }

        var senderIndex: UInt32 {
            get { bytes.loadLittleEndianUInt32(at: Self.senderOffset) }
            nonmutating set { bytes.storeLittleEndian(newValue, at: Self.senderOffset) }
        }
        var receiverIndex: UInt32 {
            get { bytes.loadLittleEndianUInt32(at: Self.receiverOffset) }
            nonmutating set { bytes.storeLittleEndian(newValue, at: Self.receiverOffset) }
        }
        var ephemeral: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.ephemeralOffset, count: WireGuard.keyLength)
        }
        /// AEAD of the empty plaintext: just the tag.
        var encryptedEmpty: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.emptyOffset, count: WireGuard.tagLength)
        }
    }

    /// Cookie reply, type 3 (§5.4.7), 64 bytes: type(4) receiver(4) nonce(24) cookie(16+16).
    struct CookieReplyMessage {
        static let length = WireGuard.cookieReplyLength
        static let receiverOffset = 4
        static let nonceOffset = receiverOffset + WireGuard.indexLength
        static let cookieOffset = nonceOffset + WireGuard.cookieNonceLength

        let bytes: UnsafeMutableRawBufferPointer

        /// A view of a received message; nil unless exactly 64 bytes of type 3.
        init?(parsing bytes: UnsafeMutableRawBufferPointer) {
            guard bytes.count == Self.length,
                  MessageType(of: UnsafeRawBufferPointer(bytes)) == .cookieReply else { return nil }
            self.bytes = bytes
        }

        /// A new message in the first 64 bytes of `buffer`, type word written, the rest zeroed.
        init(initializing buffer: UnsafeMutableRawBufferPointer) {
            precondition(buffer.count >= Self.length)
            bytes = buffer.bytes(at: 0, count: Self.length)
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            bytes.storeMessageType(.cookieReply)
        }

        var receiverIndex: UInt32 {
            get { bytes.loadLittleEndianUInt32(at: Self.receiverOffset) }
            nonmutating set { bytes.storeLittleEndian(newValue, at: Self.receiverOffset) }
        }
        var nonce: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.nonceOffset, count: WireGuard.cookieNonceLength)
        }
        /// XAEAD of the 16-byte cookie: ciphertext and tag.
        var encryptedCookie: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: Self.cookieOffset, count: WireGuard.macLength + WireGuard.tagLength)
        }
    }

    /// Transport data, type 4 (§5.4.6): type(4) receiver(4) counter(8), then the encrypted,
    /// padded packet and its tag. At least 32 bytes (a keepalive).
    struct TransportDataMessage {
        static let receiverOffset = 4
        static let counterOffset = receiverOffset + WireGuard.indexLength

        let bytes: UnsafeMutableRawBufferPointer

        /// A view of a received message; nil unless type 4 with a header and tag.
        init?(parsing bytes: UnsafeMutableRawBufferPointer) {
            guard bytes.count >= WireGuard.minimumTransportLength,
                  MessageType(of: UnsafeRawBufferPointer(bytes)) == .transportData else { return nil }
            self.bytes = bytes
        }

        /// Writes the header into the first 16 bytes of `bytes`, which holds the whole message.
        init(initializingHeaderOf bytes: UnsafeMutableRawBufferPointer, receiverIndex: UInt32, counter: UInt64) {
            self.bytes = bytes
            bytes.storeMessageType(.transportData)
            bytes.storeLittleEndian(receiverIndex, at: Self.receiverOffset)
            bytes.storeLittleEndian(counter, at: Self.counterOffset)
        }

        var receiverIndex: UInt32 { bytes.loadLittleEndianUInt32(at: Self.receiverOffset) }
        var counter: UInt64 {
            UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.counterOffset, as: UInt64.self))
        }
        /// The ciphertext between header and tag.
        var ciphertext: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: WireGuard.transportHeaderLength,
                        count: bytes.count - WireGuard.transportHeaderLength - WireGuard.tagLength)
        }
        var tag: UnsafeMutableRawBufferPointer {
            bytes.bytes(at: bytes.count - WireGuard.tagLength, count: WireGuard.tagLength)
        }
    }
}
