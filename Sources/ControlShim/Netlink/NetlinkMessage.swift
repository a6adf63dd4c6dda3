// Building and reading netlink messages (RFC 3549 §2.2; netlink(7), rtnetlink(7)) with libmnl.
//
// A message is a struct nlmsghdr, a family-specific fixed header (struct rtmsg, ifinfomsg,
// ifaddrmsg), then type-length-value attributes, each padded to 4 bytes. These views are
// internal: the typed API in Link.swift, InterfaceAddress.swift and Route.swift is all a caller
// sees. Every read is bounds-checked against the received datagram, so a short or lying length
// field yields nil, never a read past the buffer.

import CMnl
import Glibc
import WeftRouting

// MARK: - Building

/// A request being written into the socket's send buffer.
struct NetlinkRequest {
    let header: UnsafeMutablePointer<nlmsghdr>
    /// Size of the buffer `header` starts, the most the message may grow to.
    let capacity: Int
    /// Set when something did not fit; the request is then not sent.
    private(set) var overflowed = false

    /// Starts a message of `type` with `flags` in `buffer`.
    init(in buffer: UnsafeMutableRawBufferPointer, type: UInt16, flags: UInt16, sequence: UInt32) {
        header = mnl_nlmsg_put_header(buffer.baseAddress)
        capacity = buffer.count
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = flags
        header.pointee.nlmsg_seq = sequence
    }

    /// The message length so far (nlmsg_len).
    var length: Int { Int(header.pointee.nlmsg_len) }

    /// The message bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: header, count: length) }

    /// Appends a zero-filled area of `size` bytes (padded to 4) after the message so far and
    /// returns it; nil, marking the request overflowed, if it does not fit.
    mutating func appendZeroed(size: Int) -> UnsafeMutableRawPointer? {
        guard !overflowed, capacity - length >= Int(cmnl_align(Int32(size))) else {
            overflowed = true
            return nil
        }
        return mnl_nlmsg_put_extra_header(header, size)
    }

    /// Appends a fixed header (struct rtmsg, ifinfomsg, ifaddrmsg) after the nlmsghdr.
    mutating func appendHeader<Header>(_ value: Header) {
        guard let area = appendZeroed(size: MemoryLayout<Header>.size) else { return }
        withUnsafeBytes(of: value) { area.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Appends attribute `type` with `payload`.
    mutating func put(_ type: UInt16, bytes payload: UnsafeRawBufferPointer) {
        guard !overflowed else { return }
        if !mnl_attr_put_check(header, capacity, type, payload.count, payload.baseAddress) {
            overflowed = true
        }
    }

    /// Appends a 32-bit attribute in host byte order (NLA_U32).
    mutating func put(_ type: UInt16, u32 value: UInt32) {
        withUnsafeBytes(of: value) { put(type, bytes: $0) }
    }

    /// Appends an 8-bit attribute (NLA_U8).
    mutating func put(_ type: UInt16, u8 value: UInt8) {
        withUnsafeBytes(of: value) { put(type, bytes: $0) }
    }

    /// Appends a NUL-terminated string attribute (NLA_NUL_STRING, e.g. IFLA_IFNAME).
    mutating func put(_ type: UInt16, string: String) {
        var bytes = Array(string.utf8)
        bytes.append(0)
        bytes.withUnsafeBytes { put(type, bytes: $0) }
    }

    /// Appends an address attribute: its 4 or 16 network-order bytes.
    mutating func put(_ type: UInt16, address: IPAddress) {
        address.withUnsafeBytes { put(type, bytes: $0) }
    }

    /// Appends a nested attribute `type` whose payload is whatever `body` appends.
    mutating func nest(_ type: UInt16, _ body: (inout NetlinkRequest) -> Void) {
        guard !overflowed, let start = mnl_attr_nest_start_check(header, capacity, type) else {
            overflowed = true
            return
        }
        body(&self)
        if !overflowed { mnl_attr_nest_end(header, start) }
    }
}

// MARK: - Reading

/// One received message. Valid only while the receive buffer holds it (inside a parse callback).
struct NetlinkMessage {
    let header: UnsafePointer<nlmsghdr>

    var type: UInt16 { header.pointee.nlmsg_type }
    var flags: UInt16 { header.pointee.nlmsg_flags }

    /// The bytes after the nlmsghdr. `mnl_nlmsg_ok` has checked that they lie in the datagram.
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_nlmsg_get_payload(header), count: mnl_nlmsg_get_payload_len(header))
    }

    /// The family header at the start of the payload; nil if the payload is shorter.
    func fixedHeader<Header>(_: Header.Type) -> Header? {
        let payload = self.payload
        guard payload.count >= MemoryLayout<Header>.size else { return nil }
        return payload.loadUnaligned(as: Header.self)
    }

    /// The attributes after a `Header`-sized family header (mnl_attr_for_each's range); nil if
    /// the payload is shorter than the header.
    func attributes<Header>(after _: Header.Type) -> NetlinkAttributes? {
        let payload = self.payload
        let offset = Int(cmnl_align(Int32(MemoryLayout<Header>.size)))
        guard payload.count >= offset else { return nil }
        return NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[offset...]))
    }
}

/// A run of attributes: a message's, a nest's, or a multipath next hop's.
struct NetlinkAttributes: Sequence {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Walks the attributes the way mnl_attr_for_each does: each step checks with mnl_attr_ok
    /// that the attribute lies whole in what is left, and advances by its padded length (at
    /// least 4 bytes), so the walk ends within `bytes.count / 4` steps.
    struct Iterator: IteratorProtocol {
        var cursor: UnsafeRawPointer?
        let end: UnsafeRawPointer?

        mutating func next() -> NetlinkAttribute? {
            guard let cursor, let end else { return nil }
            let remaining = end - cursor
            let attribute = cursor.assumingMemoryBound(to: nlattr.self)
            guard remaining >= Int(cmnl_attr_hdrlen()), mnl_attr_ok(attribute, Int32(remaining)) else {
                self.cursor = nil
                return nil
            }
            self.cursor = UnsafeRawPointer(mnl_attr_next(attribute))
            return NetlinkAttribute(attribute)
        }
    }

    func makeIterator() -> Iterator {
        Iterator(cursor: bytes.baseAddress, end: bytes.baseAddress.map { $0 + bytes.count })
    }

    /// The first attribute of `type`, if any.
    func first(_ type: UInt16) -> NetlinkAttribute? {
        first { $0.type == type }
    }
}

/// One attribute; its accessors return nil when the payload is too short for the value.
struct NetlinkAttribute {
    let raw: UnsafePointer<nlattr>

    init(_ raw: UnsafePointer<nlattr>) {
        self.raw = raw
    }

    /// The attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flag bits.
    var type: UInt16 { mnl_attr_get_type(raw) }

    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_attr_get_payload(raw), count: Int(mnl_attr_get_payload_len(raw)))
    }

    var u8: UInt8? {
        let payload = self.payload
        return payload.count >= 1 ? payload[0] : nil
    }

    var u32: UInt32? {
        let payload = self.payload
        return payload.count >= 4 ? payload.loadUnaligned(as: UInt32.self) : nil
    }

    /// The text up to the first NUL (or the payload's end); invalid UTF-8 is repaired.
    var string: String {
        let payload = self.payload
        let length = payload.firstIndex(of: 0) ?? payload.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: payload[..<length]), as: UTF8.self)
    }

    /// The payload as an address of `family` (exactly 4 or 16 bytes); nil otherwise.
    func address(_ family: IPFamily) -> IPAddress? {
        let payload = self.payload
        guard payload.count == family.addressBitWidth / 8 else { return nil }
        return IPAddress(bytes: payload)
    }

    /// The attributes nested in this one.
    var nested: NetlinkAttributes { NetlinkAttributes(payload) }
}

// MARK: - Address families

extension IPFamily {
    /// The AF_INET / AF_INET6 value rtnetlink headers carry.
    var addressFamily: UInt8 {
        switch self {
        case .ipv4: UInt8(AF_INET)
        case .ipv6: UInt8(AF_INET6)
        }
    }

    /// The family of an AF_INET / AF_INET6 value; nil for any other.
    init?(addressFamily: UInt8) {
        switch addressFamily {
        case UInt8(AF_INET): self = .ipv4
        case UInt8(AF_INET6): self = .ipv6
        default: return nil
        }
    }
}
