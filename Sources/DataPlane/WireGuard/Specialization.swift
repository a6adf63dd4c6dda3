// The per-packet entry points compiled for the I/O layer's `Endpoint`, the one endpoint type the
// engine uses.
//
// `Device` is generic over its endpoint type and its code is not inlinable, so a caller in another
// module runs the unspecialized generic code: generic metadata lookups and value-witness calls on
// every packet, about 2,200 instructions on top of the ~15,000 of a 1420-byte seal (measured with
// callgrind). Inside this module the compiler specializes the calls the engine makes; these
// overloads give callers elsewhere (embedders driving the core with their own I/O, the benchmarks)
// that same specialized code. Overload resolution prefers them whenever `Endpoint` is
// `WeftDataPlane.Endpoint`; behaviour is exactly that of the generic methods.

extension WireGuard.Device where Endpoint == WeftDataPlane.Endpoint {
    /// `encapsulate(packetLength:in:now:output:)`, specialized for the I/O layer's endpoint.
    public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, now: WireGuard.Instant,
                            output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        encapsulateRouted(packetLength: packetLength, in: buffer, now: now, output: output)
    }

    /// `encapsulate(packetLength:in:for:now:output:)`, specialized for the I/O layer's endpoint.
    public func encapsulate(packetLength: Int, in buffer: UnsafeMutableRawBufferPointer, for id: WireGuard.PeerID,
                            now: WireGuard.Instant, output: OutputHandler) -> WireGuard.EncapsulateResult<Endpoint> {
        encapsulateForPeer(packetLength: packetLength, in: buffer, id: id, now: now, output: output)
    }

    /// `decapsulate(_:from:now:output:)`, specialized for the I/O layer's endpoint.
    public func decapsulate(_ datagram: UnsafeMutableRawBufferPointer, from source: Endpoint, now: WireGuard.Instant,
                            output: OutputHandler) -> WireGuard.DecapsulateResult {
        receive(datagram, from: source, now: now, output: output)
    }
}
