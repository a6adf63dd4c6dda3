// Fuzzes OSPF Link State Request packets (RFC 2328 §A.3.4) and their answers (§10.7), from the
// lower neighbor in Exchange, Loading and Full, and from the higher, authenticated neighbor once
// R's database holds every LS type. What the harness does and checks with each input is in
// FuzzOSPFHarness.

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
    type: .linkStateRequest,
    injections: [(.exchangeAsMaster, .lowerNeighbor), (.loadingAsMaster, .lowerNeighbor), (.fullAsMaster, .lowerNeighbor),
                 (.converged, .higherNeighbor)],
    // An entry that parses (a known LS type in its 32-bit field) re-encodes as received.
    isCanonical: { _, _ in true },
    check: { observation in
        guard case .linkStateRequest(let request) = observation.body else { preconditionFailure("not an LSR") }
        let (before, after) = observation.neighborStates
        guard let before, before >= .exchange else {
            precondition(observation.drops == [.neighborStateTooLow] && after == before)
            return
        }
        // §10.7: every requested LSA comes back, in Link State Updates, or a single missing one
        // is BadLSReq and restarts the exchange.
        let database = Set(observation.before.database.map(\.key))
        if request.requests.allSatisfy(database.contains) {
            var sent: [OSPFLSAKey] = []
            for case .linkStateUpdate(let update) in observation.sentBodies { sent += update.lsas.map(\.key) }
            precondition(sent.sorted() == request.requests.sorted(), "the answer is not the LSAs requested")
            precondition(after == before, "a satisfiable request changed the neighbor")
        } else {
            precondition(after == .exchangeStart, "a request for a missing LSA was not BadLSReq")
        }
    })
