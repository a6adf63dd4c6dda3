// A UDP endpoint (address and port) as WireGuard peers use it, with the text form `wg` prints
// ("198.18.0.1:51820", "[fd00::1]:51820") and allocation-free conversion from and to the kernel's
// sockaddr_in / sockaddr_in6. Self-contained on purpose: the routing module's prefix types are a
// different concept (sets of addresses) and the data plane must not wait on them.
import Glibc

/// A UDP endpoint: an IPv4 or IPv6 address and a port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// An IP address.
    public enum Address: Hashable, Sendable, CustomStringConvertible {
        /// The address as a number in network order: 198.18.0.1 is `0xC612_0001`.
        case ipv4(UInt32)
        /// The address as two numbers in network order, high half first, and the zone (interface
        /// index) of a scoped address such as fe80::/10, 0 for none.
        case ipv6(high: UInt64, low: UInt64, scopeID: UInt32)

        /// `a.b.c.d`.
        public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Address {
            .ipv4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
        }

        /// An IPv6 address from its sixteen bytes in network order.
        public static func ipv6(bytes: UnsafeRawBufferPointer, scopeID: UInt32 = 0) -> Address? {
            guard bytes.count == 16 else { return nil }
            return .ipv6(high: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                         low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                         scopeID: scopeID)
        }

        /// True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), the form in which dual-stack sockets
        /// report IPv4 peers.
        public var isIPv4Mapped: Bool {
            if case .ipv6(0, let low, _) = self { return low >> 32 == 0xFFFF }
            return false
        }

        /// The IPv4 address of an IPv4-mapped IPv6 address; any other address unchanged.
        public var unmapped: Address {
            if case .ipv6(0, let low, _) = self, low >> 32 == 0xFFFF { return .ipv4(UInt32(truncatingIfNeeded: low)) }
            return self
        }

        /// The address as `inet_ntop` writes it: dotted quad, or RFC 5952 IPv6 text with a
        /// `%zone` suffix for a scoped address (as `getnameinfo(NI_NUMERICHOST)` adds it).
        public var description: String {
            switch self {
            case .ipv4(let value):
                return Self.formatIPv4(value)
            case .ipv6(let high, let low, let scopeID):
                let text = Self.formatIPv6(high: high, low: low)
                return scopeID == 0 ? text : text + "%" + Self.zoneName(scopeID, high: high)
            }
        }

        /// Parses a dotted quad or IPv6 text (with an optional `%zone`, an interface name or
        /// index). Returns nil for anything `inet_pton` would reject.
        public init?(_ text: some StringProtocol) {
            var string = String(text)
            guard let parsed = string.withUTF8({ Self.parse($0) }) else { return nil }
            self = parsed
        }
    }

    /// The address.
    public var address: Address
    /// The UDP port.
    public var port: UInt16

    public init(address: Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// 0.0.0.0:0, the endpoint of packets that have none (TUN packets).
    public static let unspecified = Endpoint(address: .ipv4(0), port: 0)

    /// `198.18.0.1:51820` or `[fd00::1]:51820`, as `wg show` prints endpoints.
    public var description: String {
        switch address {
        case .ipv4: return "\(address):\(port)"
        case .ipv6: return "[\(address)]:\(port)"
        }
    }

    /// Parses `a.b.c.d:port` or `[ipv6]:port` (IPv6 with an optional `%zone`), the numeric forms
    /// `wg set ... endpoint` accepts. Host names are not resolved here.
    public init?(_ description: String) {
        var text = description
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> Endpoint? {
        guard let colon = text.lastIndex(of: UInt8(ascii: ":")),
              let port = parsePort(UnsafeBufferPointer(rebasing: text[(colon + 1)...]))
        else { return nil }
        if text.first == UInt8(ascii: "[") {
            guard colon >= 2, text[colon - 1] == UInt8(ascii: "]") else { return nil }
            let inner = UnsafeBufferPointer(rebasing: text[1..<(colon - 1)])
            guard let address = Address.parse(inner), case .ipv6 = address else { return nil }
            return Endpoint(address: address, port: port)
        }
        guard let value = Address.parseIPv4(UnsafeBufferPointer(rebasing: text[..<colon])) else { return nil }
        return Endpoint(address: .ipv4(value), port: port)
    }

    private static func parsePort(_ digits: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard (1...5).contains(digits.count) else { return nil }
        var value: UInt32 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + UInt32(digit - UInt8(ascii: "0"))
        }
        return UInt16(exactly: value)
    }
}

// MARK: - Address text (inet_pton / inet_ntop semantics)

extension Endpoint.Address {
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> Endpoint.Address? {
        if let value = parseIPv4(text) { return .ipv4(value) }
        var addressPart = text
        var scopeID: UInt32 = 0
        if let percent = text.firstIndex(of: UInt8(ascii: "%")) {
            addressPart = UnsafeBufferPointer(rebasing: text[..<percent])
            guard let zone = parseZone(UnsafeBufferPointer(rebasing: text[(percent + 1)...])) else { return nil }
            scopeID = zone
        }
        guard let (high, low) = parseIPv6(addressPart) else { return nil }
        return .ipv6(high: high, low: low, scopeID: scopeID)
    }

    /// Dotted quad, exactly four decimal parts of 0–255 without leading zeros (glibc inet_pton).
    static func parseIPv4(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var part: UInt32 = 0
        var digits = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                part = 0
                digits = 0
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if digits > 0 && part == 0 { return nil }  // leading zero
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | part
    }

    /// RFC 4291 §2.2 text: up to eight groups of 1–4 hex digits, at most one `::`, optionally
    /// ending in a dotted quad (glibc inet_pton).
    static func parseIPv6(_ text: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
        var words: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var gap = -1  // word index where `::` stands
        var index = 0
        let end = text.count
        guard end > 0 else { return nil }
        if text[0] == UInt8(ascii: ":") {
            guard end >= 2, text[1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            index = 2
        }
        withUnsafeMutableBytes(of: &words) { raw in
            let word = raw.bindMemory(to: UInt16.self)
            while index < end, count <= 8 {
                let start = index
                var value: UInt32 = 0
                while index < end, let nibble = hexValue(text[index]), index - start < 5 {
                    value = value << 4 | nibble
                    index += 1
                }
                let length = index - start
                if index < end, text[index] == UInt8(ascii: ".") {
                    // Embedded IPv4 in the last 32 bits.
                    guard count <= 6,
                          let v4 = parseIPv4(UnsafeBufferPointer(rebasing: text[start..<end])) else { count = 9; return }
                    word[count] = UInt16(v4 >> 16)
                    word[count + 1] = UInt16(truncatingIfNeeded: v4)
                    count += 2
                    index = end
                    return
                }
                guard (1...4).contains(length), count < 8 else { count = 9; return }
                word[count] = UInt16(value)
                count += 1
                if index == end { return }
                guard text[index] == UInt8(ascii: ":") else { count = 9; return }
                index += 1
                if index < end, text[index] == UInt8(ascii: ":") {
                    guard gap < 0 else { count = 9; return }
                    gap = count
                    index += 1
                } else if index == end {
                    count = 9  // a single trailing colon
                    return
                }
            }
        }
        guard count <= 8 else { return nil }
        if gap >= 0 {
            guard count < 8 else { return nil }
            // Slide the words after the gap to the end.
            withUnsafeMutableBytes(of: &words) { raw in
                let word = raw.bindMemory(to: UInt16.self)
                let tail = count - gap
                for i in 0..<tail { word[7 - i] = word[count - 1 - i] }
                for i in gap..<(8 - tail) { word[i] = 0 }
            }
        } else if count != 8 {
            return nil
        }
        return withUnsafeBytes(of: words) { raw in
            let word = raw.bindMemory(to: UInt16.self)
            var high: UInt64 = 0
            var low: UInt64 = 0
            for i in 0..<4 { high = high << 16 | UInt64(word[i]) }
            for i in 4..<8 { low = low << 16 | UInt64(word[i]) }
            return (high, low)
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// A zone is an interface index or the name of an interface in the calling thread's
    /// network namespace.
    private static func parseZone(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard !text.isEmpty, text.count < 16 else { return nil }
        if text.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            var value: UInt64 = 0
            for digit in text {
                value = value * 10 + UInt64(digit - UInt8(ascii: "0"))
                guard value <= UInt32.max else { return nil }
            }
            return UInt32(value)
        }
        let name = String(decoding: text, as: UTF8.self)
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }

    static func formatIPv4(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// glibc inet_ntop6: lowercase hex without leading zeros, the first longest run of two or
    /// more zero groups as `::`, and a dotted quad for ::a.b.c.d and ::ffff:a.b.c.d.
    static func formatIPv6(high: UInt64, low: UInt64) -> String {
        func word(_ i: Int) -> UInt16 {
            UInt16(truncatingIfNeeded: (i < 4 ? high : low) >> (16 * (3 - i % 4)))
        }
        var bestStart = -1, bestLength = 0
        var runStart = -1
        for i in 0..<8 {
            if word(i) == 0 {
                if runStart < 0 { runStart = i }
                if i - runStart + 1 > bestLength {
                    bestStart = runStart
                    bestLength = i - runStart + 1
                }
            } else {
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        var i = 0
        while i < 8 {
            if bestStart >= 0, i >= bestStart, i < bestStart + bestLength {
                if i == bestStart { text += ":" }
                i += 1
                continue
            }
            if i != 0 { text += ":" }
            if i == 6, bestStart == 0, bestLength == 6 || (bestLength == 5 && word(5) == 0xFFFF) {
                text += formatIPv4(UInt32(truncatingIfNeeded: low))
                return text
            }
            text += String(word(i), radix: 16)
            i += 1
        }
        if bestStart >= 0, bestStart + bestLength == 8 { text += ":" }
        return text
    }

    /// getnameinfo's zone text: the interface name for link-local scopes when it exists,
    /// otherwise the number.
    private static func zoneName(_ scopeID: UInt32, high: UInt64) -> String {
        let linkLocal = high >> 54 == 0xFE80 >> 6
        let multicastLinkLocal = high >> 56 == 0xFF && (high >> 48) & 0xF == 0x2
        if linkLocal || multicastLinkLocal {
            let name: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
                guard let base = buffer.baseAddress, if_indextoname(scopeID, base) != nil else { return nil }
                return String(cString: base)
            }
            if let name { return name }
        }
        return String(scopeID)
    }
}

// MARK: - sockaddr conversion (C types stay internal)

extension Endpoint {
    /// sizeof(sockaddr_in6), the largest address the drivers exchange with the kernel.
    static let maximumSocketAddressLength = MemoryLayout<sockaddr_in6>.size

    /// Decodes a sockaddr_in or sockaddr_in6. An IPv4-mapped IPv6 address becomes IPv4: that is
    /// how a dual-stack socket reports IPv4 peers, and configured endpoints are written as IPv4.
    init?(socketAddress raw: UnsafeRawPointer, length: Int) {
        guard length >= MemoryLayout<sa_family_t>.size else { return nil }
        switch Int32(raw.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET:
            guard length >= MemoryLayout<sockaddr_in>.size else { return nil }
            let sin = raw.loadUnaligned(as: sockaddr_in.self)
            self.init(address: .ipv4(UInt32(bigEndian: sin.sin_addr.s_addr)), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            guard length >= MemoryLayout<sockaddr_in6>.size else { return nil }
            let sin6 = raw.loadUnaligned(as: sockaddr_in6.self)
            let address = withUnsafeBytes(of: sin6.sin6_addr) {
                Address.ipv6(bytes: $0, scopeID: sin6.sin6_scope_id)
            }
            guard let address else { return nil }
            self.init(address: address.unmapped, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// Encodes the endpoint for a socket of the given family into `raw`, which holds at least
    /// `maximumSocketAddressLength` bytes. An AF_INET6 socket gets IPv4 endpoints as IPv4-mapped
    /// addresses. Returns the address length, or 0 when the family cannot reach the endpoint
    /// (IPv6 on an AF_INET socket).
    func encode(into raw: UnsafeMutableRawPointer, ipv6Socket: Bool) -> Int {
        if ipv6Socket {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            var high: UInt64, low: UInt64
            switch address {
            case .ipv4(let value):
                (high, low) = (0, 0xFFFF_0000_0000 | UInt64(value))
            case .ipv6(let h, let l, let scopeID):
                (high, low) = (h, l)
                sin6.sin6_scope_id = scopeID
            }
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { bytes in
                bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            raw.storeBytes(of: sin6, as: sockaddr_in6.self)
            return MemoryLayout<sockaddr_in6>.size
        }
        guard case .ipv4(let value) = address.unmapped else { return 0 }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = value.bigEndian
        raw.storeBytes(of: sin, as: sockaddr_in.self)
        return MemoryLayout<sockaddr_in>.size
    }
}
