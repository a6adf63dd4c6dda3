// Fuzzes the address text parsers: the I/O layer's `Endpoint` and `Endpoint.Address`
// (inet_pton semantics, with `%zone`) and the routing module's `IPAddress` and prefixes
// (RFC 4291 §2.2, §2.3; RFC 4632 §3.1). The input is taken as text; nothing may crash, and
//
// - whatever parses must format and reparse to the same value (round trip);
// - the two address parsers must agree on text without a zone, and both with glibc's inet_pton;
// - the prefix parsers of either family must agree with `IPPrefix`, and `canonical` must be
//   canonical and contain the prefix's address.

import Glibc
import WeftDataPlane
import WeftRouting

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkText(String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self))
    return 0
}
#else
/// Without `-DFUZZING`: runs the same check on the contents of each file named on the command
/// line, to reproduce a crash under a debugger.
@main enum Reproducer {
    static func main() {
        for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
            checkText(String(decoding: readFile(path), as: UTF8.self))
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
}
#endif

func checkText(_ text: String) {
    if let endpoint = Endpoint(text) {
        let again = Endpoint(endpoint.description)
        precondition(again == endpoint, "Endpoint \(text.debugDescription) → \(endpoint) → \(String(describing: again))")
    }

    let endpointAddress = Endpoint.Address(text)
    if let endpointAddress {
        let again = Endpoint.Address(endpointAddress.description)
        precondition(again == endpointAddress,
                     "Endpoint.Address \(text.debugDescription) → \(endpointAddress) → \(String(describing: again))")
    }

    let address = IPAddress(text)
    if let address {
        precondition(IPAddress(address.description) == address, "IPAddress \(text.debugDescription) → \(address) does not reparse")
    }

    // Without a zone both parsers read the same language: inet_pton's.
    if !text.utf8.contains(UInt8(ascii: "%")) {
        let reference = inetPton(text)
        precondition(endpointAddress == reference,
                     "Endpoint.Address \(text.debugDescription): \(String(describing: endpointAddress)), inet_pton: \(String(describing: reference))")
        precondition(address.map(Endpoint.Address.init(address:)) == reference,
                     "IPAddress \(text.debugDescription): \(String(describing: address)), inet_pton: \(String(describing: reference))")
    }

    let prefix = IPPrefix(text)
    if let prefix {
        precondition(IPPrefix(prefix.description) == prefix, "IPPrefix \(text.debugDescription) → \(prefix) does not reparse")
        let canonical = prefix.canonical
        precondition(canonical.isCanonical && canonical.length == prefix.length && canonical.contains(prefix.address)
                     && prefix.contains(canonical) && canonical.contains(prefix),
                     "IPPrefix \(prefix): canonical form \(canonical) is wrong")
    }
    let v4 = IPv4Prefix(text), v6 = IPv6Prefix(text)
    switch prefix {
    case .v4(let expected)?: precondition(v4 == expected && v6 == nil, "IPv4Prefix \(text.debugDescription) disagrees")
    case .v6(let expected)?: precondition(v6 == expected && v4 == nil, "IPv6Prefix \(text.debugDescription) disagrees")
    case nil: precondition(v4 == nil && v6 == nil, "IPv4Prefix/IPv6Prefix accept \(text.debugDescription), IPPrefix does not")
    }
}

/// glibc's reading of `text` as an IPv4 or IPv6 address; nil if it rejects it (or the text holds
/// a NUL, which C would cut short).
func inetPton(_ text: String) -> Endpoint.Address? {
    guard !text.utf8.contains(0) else { return nil }
    var bytes = (UInt64(0), UInt64(0))
    return withUnsafeMutableBytes(of: &bytes) { raw in
        if inet_pton(AF_INET, text, raw.baseAddress) == 1 {
            return .ipv4(UInt32(bigEndian: raw.load(as: UInt32.self)))
        }
        if inet_pton(AF_INET6, text, raw.baseAddress) == 1 {
            return Endpoint.Address.ipv6(bytes: UnsafeRawBufferPointer(raw))
        }
        return nil
    }
}

extension Endpoint.Address {
    /// The routing module's address in the I/O layer's form.
    init(address: IPAddress) {
        switch address {
        case .v4(let v4): self = .ipv4(v4.value)
        case .v6(let v6): self = .ipv6(high: v6.hi, low: v6.lo, scopeID: 0)
        }
    }
}
