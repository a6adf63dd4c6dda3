import Testing
@testable import WeftOSPF

@Suite("Designated Router election (§9.4)")
struct ElectionTests {
    static func router(_ n: UInt8, priority: UInt8 = 1, dr: UInt8 = 0, bdr: UInt8 = 0) -> OSPFElectionCandidate {
        OSPFElectionCandidate(routerID: OSPFAddress(n, n, n, n), address: OSPFAddress(10, 0, 0, n), priority: priority,
                              declaredDesignatedRouter: dr == 0 ? .unspecified : OSPFAddress(10, 0, 0, dr),
                              declaredBackupDesignatedRouter: bdr == 0 ? .unspecified : OSPFAddress(10, 0, 0, bdr))
    }

    struct Case: CustomTestStringConvertible {
        var name: String
        var me: OSPFElectionCandidate
        var neighbors: [OSPFElectionCandidate]
        var dr: UInt8
        var bdr: UInt8
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "fresh LAN, calculating router best: DR itself, second best BDR",
             me: router(9), neighbors: [router(3), router(5)], dr: 9, bdr: 5),
        Case(name: "fresh LAN, calculating router not best: transiently both roles on the best",
             me: router(3), neighbors: [router(9), router(5)], dr: 9, bdr: 9),
        Case(name: "priority beats Router ID",
             me: router(1, priority: 5), neighbors: [router(9), router(7, priority: 3)], dr: 1, bdr: 7),
        Case(name: "priority 0 is never elected",
             me: router(9, priority: 0), neighbors: [router(3, dr: 3), router(5, priority: 0, dr: 3)], dr: 3, bdr: 0),
        Case(name: "priority 0 routers are ignored; the only eligible one is transiently DR and BDR",
             me: router(9, priority: 0), neighbors: [router(3), router(5, priority: 0)], dr: 3, bdr: 3),
        Case(name: "an established DR and BDR are kept even if a better router appears",
             me: router(9, priority: 10), neighbors: [router(3, dr: 3, bdr: 5), router(5, dr: 3, bdr: 5)],
             dr: 3, bdr: 5),
        Case(name: "DR gone, seen by a DROther: the BDR is promoted (BDR until it declares itself DR)",
             me: router(4, dr: 2, bdr: 7), neighbors: [router(7, dr: 2, bdr: 7), router(6, dr: 2, bdr: 7)],
             dr: 7, bdr: 7),
        Case(name: "DR gone, after the promoted BDR declared itself DR: a new BDR",
             me: router(4, dr: 2, bdr: 7), neighbors: [router(7, dr: 7, bdr: 6), router(6, dr: 2, bdr: 7)],
             dr: 7, bdr: 6),
        Case(name: "DR gone and we were BDR: we become DR, next best becomes BDR",
             me: router(7, dr: 2, bdr: 7), neighbors: [router(4, dr: 2, bdr: 7), router(6, dr: 2, bdr: 7)],
             dr: 7, bdr: 6),
        Case(name: "two routers claim DR: highest priority, then Router ID",
             me: router(1), neighbors: [router(4, dr: 4), router(6, dr: 6), router(5, priority: 2, dr: 5)],
             dr: 5, bdr: 1),
        Case(name: "among BDR claimants the highest wins",
             me: router(1, dr: 8), neighbors: [router(8, dr: 8, bdr: 2), router(2, dr: 8, bdr: 2), router(3, dr: 8, bdr: 3)],
             dr: 8, bdr: 3),
        Case(name: "alone on the network: DR, no BDR",
             me: router(1), neighbors: [], dr: 1, bdr: 0),
        Case(name: "nobody eligible",
             me: router(1, priority: 0), neighbors: [router(2, priority: 0)], dr: 0, bdr: 0),
    ]

    @Test(arguments: cases)
    func election(_ test: Case) {
        let (dr, bdr) = OSPFDesignatedRouterElection.elect(me: test.me, neighbors: test.neighbors)
        #expect(dr == (test.dr == 0 ? .unspecified : OSPFAddress(10, 0, 0, test.dr)))
        #expect(bdr == (test.bdr == 0 ? .unspecified : OSPFAddress(10, 0, 0, test.bdr)))
    }
}
