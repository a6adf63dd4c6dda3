// Fuzzes OSPF Database Description packets (RFC 2328 §A.3.3) and the database exchange (§10.6,
// §10.8): from the lower neighbor, for which R is master, in ExStart, Exchange and Full, and from
// the higher, authenticated neighbor, for which R is slave, in ExStart and Exchange. What the
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
    type: .databaseDescription,
    injections: [(.exStartAsMaster, .lowerNeighbor), (.exchangeAsMaster, .lowerNeighbor), (.fullAsMaster, .lowerNeighbor),
                 (.exStartAsSlave, .higherNeighbor), (.exchangeAsSlave, .higherNeighbor)],
    // The five reserved bits of the flags byte are dropped, and LS ages above MaxAge clamped.
    isCanonical: { _, body in
        body[3] & 0xF8 == 0 && stride(from: 8, to: body.count, by: 20).allSatisfy {
            UInt16(body[$0]) << 8 | UInt16(body[$0 + 1]) <= OSPFConstants.maxAge
        }
    },
    check: { observation in
        guard case .databaseDescription(let description) = observation.body else { preconditionFailure("not a DD") }
        let (before, after) = observation.neighborStates
        // §10.6: a DD announcing a larger MTU than ours is rejected and changes nothing.
        if description.interfaceMTU > 1500 {
            precondition(observation.drops == [.mtuMismatch] && after == before, "DD with a too large MTU accepted")
            return
        }
        // A DD never takes an adjacency below ExStart: a bad one is a SeqNumberMismatch, which
        // restarts the exchange (§10.3).
        if let before, before >= .exchangeStart {
            precondition(after.map { $0 >= .exchangeStart } ?? false, "DD took the neighbor from \(before) to \(String(describing: after))")
        }
        // Only the neighbor's packets move its state forward past ExStart in order.
        if let before, let after, before == .exchangeStart, after > .exchangeStart {
            precondition(description.flags.contains(.master) != (observation.peer.routerID < OSPFLab.routerID),
                         "negotiation settled on the wrong master")
        }
    })
