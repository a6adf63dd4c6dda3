// Fuzzes OSPF Link State Update packets (RFC 2328 §A.3.5), the flooding procedure (§13) and,
// with whatever LSAs get installed, the routing table calculation (§16): from the lower neighbor
// in Exchange, Loading and once everything converged, and from the higher, authenticated one.
// The harness also sends each update with every LS checksum fixed up, so that mutated LSAs get
// past §13 step 1. What the harness does and checks with each input is in FuzzOSPFHarness.

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
    type: .linkStateUpdate,
    injections: [(.exchangeAsMaster, .lowerNeighbor), (.loadingAsMaster, .lowerNeighbor), (.converged, .lowerNeighbor),
                 (.converged, .higherNeighbor)],
    // LSAs of unknown LS types are skipped and LS ages above MaxAge clamped.
    isCanonical: { body, _ in
        guard case .linkStateUpdate(let update) = body else { return false }
        return update.skippedUnknownTypes == 0
            && update.lsas.allSatisfy { $0.header.age < OSPFConstants.maxAge }
    },
    check: { observation in
        guard case .linkStateUpdate(let update) = observation.body else { preconditionFailure("not an LSU") }
        guard let before = observation.neighborStates.before, before >= .exchange else {
            precondition(observation.drops == [.neighborStateTooLow])
            return
        }
        // §13 step 6 (BadLSReq, back to ExStart) ends processing early; MinLSArrival (step 5a)
        // keeps an older copy.
        guard observation.neighborStates.after != .exchangeStart, !observation.drops.contains(.lsaArrivedTooSoon)
        else { return }
        // Every acceptable LSA leaves the database holding it or a more recent instance (§13
        // steps 5, 7, 8), unless it is one of R's own, which R may flush (§13.4). A MaxAge LSA
        // that R does not hold is acknowledged and discarded (step 4), so that a later, older
        // instance in the same update may be installed in its place.
        let database = Dictionary(observation.after.database.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let interfaceAddresses = Set(observation.after.interfaces.map(\.address))
        for lsa in update.lsas where lsa.hasValidChecksum && lsa.hasWellFormedBody && lsa.header.age < OSPFConstants.maxAge {
            guard let held = database[lsa.key] else {
                let own = lsa.header.advertisingRouter == OSPFLab.routerID
                    || (lsa.header.type == .network && interfaceAddresses.contains(lsa.header.linkStateID))
                precondition(own, "LSA \(lsa.key) was lost")
                continue
            }
            let copy = observation.router.lsa(held.key, now: observation.now)!.header
            precondition(OSPFLSAComparison.compare(copy, lsa.header) != .older,
                         "database kept an older instance of \(lsa.key)")
        }
    })
