// Fuzzes OSPF Link State Acknowledgment packets (RFC 2328 §A.3.6, §13.7): from the lower
// neighbor in Exchange and as it becomes Full with R's new router-LSA unacknowledged, and from
// the higher, authenticated neighbor while the LSAs R flooded to it await acknowledgment. What the
// harness does and checks with each input is in FuzzOSPFHarness.

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
    type: .linkStateAcknowledgment,
    injections: [(.exchangeAsMaster, .lowerNeighbor), (.fullAsMaster, .lowerNeighbor), (.converged, .higherNeighbor)],
    // LS ages above MaxAge are clamped.
    isCanonical: { _, body in
        stride(from: 0, to: body.count, by: 20).allSatisfy {
            UInt16(body[$0]) << 8 | UInt16(body[$0 + 1]) <= OSPFConstants.maxAge
        }
    },
    check: { observation in
        // §13.7: an acknowledgment only takes LSAs off retransmission lists; it changes no
        // neighbor's state and sends nothing.
        for neighbor in observation.after.neighbors {
            guard let earlier = observation.before.neighbors.first(where: {
                $0.interface == neighbor.interface && $0.routerID == neighbor.routerID
            }) else { preconditionFailure("an LSAck added a neighbor") }
            precondition(earlier.state == neighbor.state, "an LSAck changed a neighbor's state")
            precondition(neighbor.retransmissionListCount <= earlier.retransmissionListCount,
                         "an LSAck grew a retransmission list")
        }
        precondition(!observation.actions.contains { if case .send = $0 { true } else { false } },
                     "an LSAck made R send something")
    })
