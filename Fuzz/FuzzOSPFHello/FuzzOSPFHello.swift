// Fuzzes OSPF Hello packets (RFC 2328 §A.3.2) and their processing (§10.5): from the lower
// neighbor before R has heard of it and once it is Full, from the authenticated higher neighbor,
// and from a stranger on R's LAN while R waits for the DR election (§9.4) and once it is DR.
// What the harness does and checks with each input is in FuzzOSPFHarness.

import FuzzOSPFHarness
import WeftOSPF

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without `-DFUZZING`: runs the same checks on each file named on the command line, or writes
/// the seeds with `--write-seeds DIRECTORY`.
@main enum Reproducer {
    static func main() { harness.reproduce(CommandLine.arguments) }
}
#endif

nonisolated(unsafe) let harness = OSPFFuzzHarness(
    type: .hello,
    injections: [(.interfacesUp, .lowerNeighbor), (.interfacesUp, .lanStranger), (.fullAsMaster, .lowerNeighbor),
                 (.converged, .higherNeighbor), (.converged, .lanStranger)],
    // Every field of a Hello is kept as received.
    isCanonical: { _, _ in true },
    check: { observation in
        guard case .hello(let hello) = observation.body else { preconditionFailure("not a Hello") }
        let interface = observation.after.interfaces.first { $0.id == observation.peer.interface }!
        if interface.type == .pointToPoint {
            precondition(interface.neighborCount <= 1, "two neighbors on a point-to-point link")
        }
        // §10.5: a Hello that passes the parameter checks makes its sender a neighbor, in Init
        // unless it lists us (1-WayReceived), else 2-Way or beyond (2-WayReceived).
        guard observation.drops.isEmpty else {
            precondition(observation.neighborStates.after == observation.neighborStates.before,
                         "a rejected Hello changed the neighbor")
            return
        }
        guard let state = observation.neighborStates.after else { preconditionFailure("Hello sender is no neighbor") }
        if hello.neighbors.contains(OSPFLab.routerID) {
            precondition(state >= .twoWay, "Hello listing us left the neighbor in \(state)")
        } else {
            precondition(state == .initial, "Hello not listing us left the neighbor in \(state)")
        }
    })
