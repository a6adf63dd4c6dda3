import Testing
@testable import WeftOSPF

/// Database life cycle: origination rate limits (§12.4), refresh and aging (§14), and
/// re-origination after a restart (§13.4).
@Suite("Link state database")
struct DatabaseTests {
    static let a = OSPFAddress(1, 1, 1, 1)
    static let b = OSPFAddress(2, 2, 2, 2)
    static func routerKey(_ id: OSPFAddress) -> OSPFLSAKey {
        OSPFLSAKey(type: .router, linkStateID: id, advertisingRouter: id)
    }

    @Test("A restarted router resumes above the sequence number its neighbors remember (§13.4)")
    func restartBumpsSequence() throws {
        let network = AdjacencyTests.pointToPointPair()
        network.run(for: .seconds(20))
        // Flap B's link a few times so that its router-LSA sequence number climbs.
        for _ in 0..<3 {
            network.bringDown(1, AdjacencyTests.link)
            network.run(for: .seconds(6))
            network.bringUp(1, AdjacencyTests.link)
            network.run(for: .seconds(12))
        }
        let before = try #require(network.routers[0].lsa(Self.routerKey(Self.b), now: network.now))
        #expect(before.header.sequenceNumber > OSPFConstants.initialSequenceNumber + 3)
        network.restart(1, interfaces: [AdjacencyTests.loopback, AdjacencyTests.link])
        network.run(for: .seconds(30))
        let own = try #require(network.routers[1].lsa(Self.routerKey(Self.b), now: network.now))
        let seenByA = try #require(network.routers[0].lsa(Self.routerKey(Self.b), now: network.now))
        #expect(own.header.sequenceNumber > before.header.sequenceNumber)
        #expect(seenByA.header.sequenceNumber == own.header.sequenceNumber)
        #expect(seenByA.header.checksum == own.header.checksum)
        #expect(network.routers[0].neighborStates(on: AdjacencyTests.link)[Self.b] == .full)
    }

    @Test("Our LSAs are refreshed every LSRefreshTime; a silent router's LSA ages out at MaxAge (§14)")
    func refreshAndAging() throws {
        let network = AdjacencyTests.pointToPointPair()
        network.run(for: .seconds(20))
        let initial = try #require(network.routers[0].lsa(Self.routerKey(Self.a), now: network.now))
        // B vanishes for good (its process stops: no more packets, no flush).
        network.segments[0].connected = false
        network.deadlines[1] = nil
        network.routers[1] = OSPFRouter(configuration: OSPFConfiguration(routerID: OSPFAddress(2, 2, 2, 3)))
        network.run(for: .seconds(1_700))
        #expect(network.routers[0].lsa(Self.routerKey(Self.b), now: network.now) != nil)
        network.run(for: .seconds(200))
        // Past LSRefreshTime (1800 s): a new instance of our own router-LSA.
        let refreshed = try #require(network.routers[0].lsa(Self.routerKey(Self.a), now: network.now))
        #expect(refreshed.header.sequenceNumber > initial.header.sequenceNumber)
        #expect(refreshed.header.age < 200)
        network.run(for: .seconds(1_800))
        // Past MaxAge (3600 s) without a refresh, B's LSA is flushed and, with no neighbor left
        // to acknowledge it, removed.
        #expect(network.routers[0].lsa(Self.routerKey(Self.b), now: network.now) == nil)
        let keys = network.routers[0].databaseSnapshot(now: network.now).map(\.key)
        #expect(keys == [Self.routerKey(Self.a)])
    }

    @Test("MinLSInterval: a flapping link never makes a router-LSA change more often than every 5 s")
    func minLSInterval() {
        let network = AdjacencyTests.pointToPointPair()
        var changes: [OSPFInstant] = []
        var lastSequence: Int32?
        network.observer = { [unowned network] index in
            guard index == 0, let entry = network.routers[0].database.entries[Self.routerKey(Self.a)],
                  entry.lsa.header.sequenceNumber != lastSequence else { return }
            lastSequence = entry.lsa.header.sequenceNumber
            changes.append(entry.installedAt)
        }
        network.run(for: .seconds(15))
        for _ in 0..<8 {
            network.bringDown(0, AdjacencyTests.link)
            network.run(for: .milliseconds(700))
            network.bringUp(0, AdjacencyTests.link)
            network.run(for: .milliseconds(1_300))
        }
        network.run(for: .seconds(20))
        #expect(changes.count >= 3)
        for (earlier, later) in zip(changes, changes.dropFirst()) {
            #expect(later - earlier >= OSPFConstants.minLSInterval, "\(earlier) → \(later)")
        }
        // Once the flapping stops, the final LSA describes the adjacency again.
        #expect(network.routers[0].neighborStates(on: AdjacencyTests.link)[Self.b] == .full)
        #expect(network.routers[0].routingTable.count == 3)
    }

    @Test("Reconfiguring an interface cost re-originates the router-LSA and changes routes")
    func reconfigureCost() throws {
        let network = AdjacencyTests.pointToPointPair()
        network.run(for: .seconds(20))
        var configuration = network.routers[0].configuration
        configuration.interfaces[1].cost = 25
        configuration.stubNetworks = [OSPFStubNetwork(prefix: OSPFPrefix(address: OSPFAddress(192, 0, 2, 0), length: 24),
                                                      cost: 4)]
        network.handle(network.routers[0].reconfigure(configuration, now: network.now), from: 0)
        network.run(for: .seconds(10))
        let routesA = Dictionary(uniqueKeysWithValues: network.routers[0].routingTable.map { ($0.prefix, $0) })
        #expect(routesA[OSPFPrefix(address: Self.b, length: 32)]?.cost == 25)
        #expect(network.routers[0].neighborStates(on: AdjacencyTests.link)[Self.b] == .full)
        // The stub network is advertised: B reaches it through A at 7 + 4.
        let routesB = Dictionary(uniqueKeysWithValues: network.routers[1].routingTable.map { ($0.prefix, $0) })
        let stub = try #require(routesB[OSPFPrefix(address: OSPFAddress(192, 0, 2, 0), length: 24)])
        #expect(stub.cost == 11)
        #expect(stub.nextHops == [OSPFNextHop(interface: AdjacencyTests.link, gateway: OSPFAddress(10, 0, 0, 1))])
        // Removing the interface flushes the adjacency and its routes.
        configuration.interfaces.removeLast()
        network.handle(network.routers[0].reconfigure(configuration, now: network.now), from: 0)
        network.run(for: .seconds(15))
        #expect(network.routers[0].routingTable.allSatisfy { $0.prefix != OSPFPrefix(address: Self.b, length: 32) })
        #expect(network.routers[1].neighborStates(on: AdjacencyTests.link).isEmpty)
    }

    @Test("Snapshots encode to JSON-friendly Codable values")
    func snapshotCodable() throws {
        let network = AdjacencyTests.pointToPointPair()
        network.run(for: .seconds(20))
        let snapshot = network.routers[0].snapshot(now: network.now)
        #expect(snapshot.neighbors.map(\.state) == [.full])
        #expect(snapshot.interfaces.map(\.state) == [.loopback, .pointToPoint])
        #expect(snapshot.database.count == 2 && snapshot.routes.count == 3)
        #expect(snapshot.database.allSatisfy { $0.sequenceNumber >= 0x8000_0001 })
        let encoded = try PropertyListLikeEncoder.encode(snapshot)
        #expect(encoded.contains("\"routerID\": \"1.1.1.1\""))
        #expect(encoded.contains("\"prefix\": \"2.2.2.2/32\""))
        #expect(!encoded.contains("secret"))
    }
}

/// A minimal JSON-ish encoder (the package avoids Foundation) that proves the snapshot types
/// encode through `Codable` with readable scalar forms.
enum PropertyListLikeEncoder {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = TreeEncoder()
        try value.encode(to: encoder)
        return encoder.root.render()
    }

    final class Node {
        var scalar: String?
        var keyed: [(String, Node)] = []
        var unkeyed: [Node] = []
        var isArray = false

        func render() -> String {
            if let scalar { return scalar }
            if isArray { return "[" + unkeyed.map { $0.render() }.joined(separator: ", ") + "]" }
            return "{" + keyed.map { "\"\($0.0)\": \($0.1.render())" }.joined(separator: ", ") + "}"
        }
    }

    final class TreeEncoder: Encoder {
        let root: Node
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]
        init(root: Node = Node()) { self.root = root }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            KeyedEncodingContainer(Keyed<Key>(node: root))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            root.isArray = true
            return Unkeyed(node: root)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: root) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [any CodingKey] = []
        mutating func encodeNil(forKey key: Key) throws { node.keyed.append((key.stringValue, leaf("null"))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let child = Node()
            try value.encode(to: TreeEncoder(root: child))
            node.keyed.append((key.stringValue, child))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            node.keyed.append((key.stringValue, child))
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            child.isArray = true
            node.keyed.append((key.stringValue, child))
            return Unkeyed(node: child)
        }
        mutating func superEncoder() -> any Encoder { TreeEncoder(root: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder(root: node) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        var count: Int { node.unkeyed.count }
        mutating func encodeNil() throws { node.unkeyed.append(leaf("null")) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let child = Node()
            try value.encode(to: TreeEncoder(root: child))
            node.unkeyed.append(child)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            node.unkeyed.append(child)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            child.isArray = true
            node.unkeyed.append(child)
            return Unkeyed(node: child)
        }
        mutating func superEncoder() -> any Encoder { TreeEncoder(root: node) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [any CodingKey] = []
        mutating func encodeNil() throws { node.scalar = "null" }
        mutating func encode(_ value: String) throws { node.scalar = "\"\(value)\"" }
        mutating func encode(_ value: Bool) throws { node.scalar = "\(value)" }
        mutating func encode<T: Encodable>(_ value: T) throws {
            if let number = value as? any BinaryInteger { node.scalar = "\(number)" } else {
                try value.encode(to: TreeEncoder(root: node))
            }
        }
    }

    static func leaf(_ text: String) -> Node {
        let node = Node()
        node.scalar = text
        return node
    }
}
