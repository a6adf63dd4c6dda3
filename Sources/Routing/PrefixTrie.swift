// Longest-prefix match over IPv4 and IPv6 prefixes.
//
// Each family is a path-compressed binary trie — the structure of the Linux kernel's WireGuard
// allowedips.c and of PATRICIA-style route tables: a node carries a whole prefix (key + length),
// one-child chains are collapsed, and "glue" nodes without a value exist only where two subtrees
// diverge. A lookup therefore visits at most one node per distinct prefix length on the path and
// compares a node's key with a single xor + count-leading-zeros.
//
// Nodes live in one contiguous array and refer to their children by Int32 index, so a lookup is a
// walk over a flat buffer with no reference counting and no allocation; freed nodes are recycled
// through a free list threaded through the `left` field. Values live outside the trie, in an
// array indexed by node (see `PrefixTable`), which keeps the trie itself non-generic in the value
// type: the per-family cores below are compiled and specialised once, in this module.

/// Path-compressed binary trie over `Key`-wide addresses, storing which prefixes are present.
/// Bit 0 of a key is its most significant bit.
struct BinaryTrie<Key: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    struct Node: Sendable {
        /// The prefix bits, host bits (beyond `length`) zero.
        var key: Key
        /// Child whose bit at position `length` is 0, or -1.
        var left: Int32
        /// Child whose bit at position `length` is 1, or -1.
        var right: Int32
        /// Prefix length, 0...Key.bitWidth.
        var length: UInt8
        /// False for glue nodes (pure branch points) and free nodes.
        var hasValue: Bool
    }

    private(set) var nodes: [Node] = []
    private(set) var root: Int32 = -1
    /// Head of the free-node list, linked through `Node.left`.
    private var freeList: Int32 = -1
    /// Number of prefixes present (nodes with `hasValue`).
    private(set) var count = 0

    @inline(__always)
    static func masked(_ key: Key, to length: Int) -> Key {
        length == 0 ? 0 : key & (Key.max &<< (Key.bitWidth &- length))
    }

    /// The bit at `index` (0 = most significant); `index` must be below the key width.
    @inline(__always)
    static func bit(_ key: Key, at index: Int) -> Bool {
        (key &>> (Key.bitWidth &- 1 &- index)) & 1 != 0
    }

    /// True when the first `length` bits of `key` and `node.key` agree.
    @inline(__always)
    static func matches(_ key: Key, _ node: Node) -> Bool {
        (key ^ node.key).leadingZeroBitCount >= Int(node.length)
    }

    /// Adds the prefix `key/length` (length within 0...Key.bitWidth; host bits are ignored).
    /// Returns the node that now represents it and whether it was absent before.
    mutating func insert(_ key: Key, length: Int) -> (node: Int32, inserted: Bool) {
        let key = Self.masked(key, to: length)
        var parent: Int32 = -1
        var parentBit = false
        var current = root
        // Each step moves one node deeper; depth is at most Key.bitWidth + 1.
        while current >= 0 {
            let node = nodes[Int(current)]
            let nodeLength = Int(node.length)
            let common = min((key ^ node.key).leadingZeroBitCount, length, nodeLength)
            if common == nodeLength {
                if nodeLength == length {
                    if node.hasValue { return (current, false) }
                    nodes[Int(current)].hasValue = true
                    count += 1
                    return (current, true)
                }
                parent = current
                parentBit = Self.bit(key, at: nodeLength)
                current = parentBit ? node.right : node.left
                continue
            }
            // The new prefix leaves the edge parent→current before reaching `current`.
            if common == length {
                // It is a proper prefix of `current`: insert it on the edge.
                let inserted = allocate(key: key, length: length, hasValue: true)
                setChild(of: inserted, Self.bit(node.key, at: length), to: current)
                link(parent, parentBit, to: inserted)
                count += 1
                return (inserted, true)
            }
            // The two diverge at bit `common`: a glue node branches to both.
            let leaf = allocate(key: key, length: length, hasValue: true)
            let glue = allocate(key: Self.masked(key, to: common), length: common, hasValue: false)
            let leafBit = Self.bit(key, at: common)
            setChild(of: glue, leafBit, to: leaf)
            setChild(of: glue, !leafBit, to: current)
            link(parent, parentBit, to: glue)
            count += 1
            return (leaf, true)
        }
        let leaf = allocate(key: key, length: length, hasValue: true)
        link(parent, parentBit, to: leaf)
        count += 1
        return (leaf, true)
    }

    /// Removes the prefix `key/length`; returns the node that held it, or -1 if absent. The
    /// returned index may already be recycled, so callers must clear their value slot at once.
    mutating func remove(_ key: Key, length: Int) -> Int32 {
        let key = Self.masked(key, to: length)
        var grandparent: Int32 = -1
        var grandparentBit = false
        var parent: Int32 = -1
        var parentBit = false
        var current = root
        while current >= 0 {
            let node = nodes[Int(current)]
            let nodeLength = Int(node.length)
            guard nodeLength <= length, Self.matches(key, node) else { return -1 }
            if nodeLength == length { break }
            grandparent = parent
            grandparentBit = parentBit
            parent = current
            parentBit = Self.bit(key, at: nodeLength)
            current = parentBit ? node.right : node.left
        }
        guard current >= 0, nodes[Int(current)].hasValue else { return -1 }
        let removed = current
        let node = nodes[Int(removed)]
        count -= 1
        if node.left >= 0 && node.right >= 0 {
            // Still a branch point: keep it as a glue node.
            nodes[Int(removed)].hasValue = false
            return removed
        }
        // Zero or one child: splice the node out.
        let only = node.left >= 0 ? node.left : node.right
        link(parent, parentBit, to: only)
        release(removed)
        // A glue parent that lost a child now has one: splice it out too, keeping every glue
        // node a real branch point (which bounds the node count by twice the prefix count).
        if only < 0 && parent >= 0 && !nodes[Int(parent)].hasValue {
            let parentNode = nodes[Int(parent)]
            let sibling = parentBit ? parentNode.left : parentNode.right
            link(grandparent, grandparentBit, to: sibling)
            release(parent)
        }
        return removed
    }

    /// The node holding exactly `key/length`, or -1.
    func find(_ key: Key, length: Int) -> Int32 {
        let key = Self.masked(key, to: length)
        var current = root
        while current >= 0 {
            let node = nodes[Int(current)]
            let nodeLength = Int(node.length)
            guard nodeLength <= length, Self.matches(key, node) else { return -1 }
            if nodeLength == length { return node.hasValue ? current : -1 }
            current = Self.bit(key, at: nodeLength) ? node.right : node.left
        }
        return -1
    }

    /// The node of the longest prefix containing `key`, with its length; node -1 if none.
    /// The hot path: a loop over a flat buffer, no allocation, no reference counting.
    func longestMatch(_ key: Key) -> (node: Int32, length: UInt8) {
        nodes.withUnsafeBufferPointer { nodes in
            var best: Int32 = -1
            var bestLength: UInt8 = 0
            var current = root
            while current >= 0 {
                let node = nodes[Int(current)]
                guard Self.matches(key, node) else { break }
                if node.hasValue {
                    best = current
                    bestLength = node.length
                }
                let nodeLength = Int(node.length)
                if nodeLength == Key.bitWidth { break }
                current = Self.bit(key, at: nodeLength) ? node.right : node.left
            }
            return (best, bestLength)
        }
    }

    /// Calls `body` with every present prefix (key, length, node) in ascending order: by address,
    /// and a shorter prefix before a longer one with the same address (pre-order, left first).
    func forEach(_ body: (Key, Int, Int32) throws -> Void) rethrows {
        var pending: [Int32] = []
        pending.reserveCapacity(Key.bitWidth + 1)
        var current = root
        // Visits every reachable node once, so runs at most nodes.count iterations with a node.
        while true {
            if current < 0 {
                guard let next = pending.popLast() else { return }
                current = next
            }
            let node = nodes[Int(current)]
            if node.hasValue { try body(node.key, Int(node.length), current) }
            if node.right >= 0 { pending.append(node.right) }
            current = node.left
        }
    }

    mutating func removeAll(keepingCapacity: Bool) {
        nodes.removeAll(keepingCapacity: keepingCapacity)
        root = -1
        freeList = -1
        count = 0
    }

    /// Describes the first broken structural invariant, or nil if the trie is well formed.
    /// Used by the tests after random insert/remove sequences.
    func invariantViolation() -> String? {
        var reachable = 0
        var valued = 0
        var pending: [(node: Int32, parent: Int32, bit: Bool)] = []
        if root >= 0 { pending.append((root, -1, false)) }
        while let (index, parentIndex, bit) = pending.popLast() {
            reachable += 1
            guard reachable <= nodes.count else { return "cycle" }
            let node = nodes[Int(index)]
            if node.key != Self.masked(node.key, to: Int(node.length)) { return "host bits in node \(index)" }
            if node.hasValue { valued += 1 } else if node.left < 0 || node.right < 0 {
                return "glue node \(index) without two children"
            }
            if parentIndex >= 0 {
                let parent = nodes[Int(parentIndex)]
                if node.length <= parent.length || !Self.matches(node.key, parent)
                    || Self.bit(node.key, at: Int(parent.length)) != bit {
                    return "node \(index) misplaced under \(parentIndex)"
                }
            }
            if node.left >= 0 { pending.append((node.left, index, false)) }
            if node.right >= 0 { pending.append((node.right, index, true)) }
        }
        var free = 0
        var cursor = freeList
        while cursor >= 0 && free <= nodes.count {
            free += 1
            cursor = nodes[Int(cursor)].left
        }
        if valued != count { return "count \(count) but \(valued) valued nodes" }
        if reachable + free != nodes.count { return "\(nodes.count - reachable - free) nodes leaked" }
        return nil
    }

    private mutating func allocate(key: Key, length: Int, hasValue: Bool) -> Int32 {
        let node = Node(key: key, left: -1, right: -1, length: UInt8(length), hasValue: hasValue)
        if freeList >= 0 {
            let index = freeList
            freeList = nodes[Int(index)].left
            nodes[Int(index)] = node
            return index
        }
        precondition(nodes.count < Int(Int32.max), "prefix trie exceeds Int32 node indices")
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    private mutating func release(_ index: Int32) {
        nodes[Int(index)] = Node(key: 0, left: freeList, right: -1, length: 0, hasValue: false)
        freeList = index
    }

    @inline(__always)
    private mutating func setChild(of parent: Int32, _ bit: Bool, to child: Int32) {
        if bit { nodes[Int(parent)].right = child } else { nodes[Int(parent)].left = child }
    }

    /// Points `parent`'s `bit` child — or the root, if `parent` is -1 — at `child`.
    @inline(__always)
    private mutating func link(_ parent: Int32, _ bit: Bool, to child: Int32) {
        if parent < 0 { root = child } else { setChild(of: parent, bit, to: child) }
    }
}

// MARK: - Per-family cores
//
// Concrete wrappers so that the generic-in-`Value` PrefixTable, inlined into client modules,
// calls already-specialised code here instead of an unspecialised generic trie.

@usableFromInline
struct IPv4Trie: Sendable {
    var core = BinaryTrie<UInt32>()

    @usableFromInline init() {}

    @usableFromInline var count: Int { core.count }
    @usableFromInline var nodeCount: Int { core.nodes.count }

    @usableFromInline mutating func insert(_ prefix: IPv4Prefix) -> (node: Int32, inserted: Bool) {
        core.insert(prefix.address.value, length: Int(prefix.length))
    }

    @usableFromInline mutating func remove(_ prefix: IPv4Prefix) -> Int32 {
        core.remove(prefix.address.value, length: Int(prefix.length))
    }

    @usableFromInline func find(_ prefix: IPv4Prefix) -> Int32 {
        core.find(prefix.address.value, length: Int(prefix.length))
    }

    @usableFromInline func longestMatch(_ address: IPv4Address) -> (node: Int32, length: UInt8) {
        core.longestMatch(address.value)
    }

    @usableFromInline func forEach(_ body: (IPv4Prefix, Int32) throws -> Void) rethrows {
        try core.forEach { key, length, node in
            try body(IPv4Prefix(unchecked: IPv4Address(key), length: UInt8(length)), node)
        }
    }

    @usableFromInline mutating func removeAll(keepingCapacity: Bool) {
        core.removeAll(keepingCapacity: keepingCapacity)
    }
}

@usableFromInline
struct IPv6Trie: Sendable {
    var core = BinaryTrie<UInt128>()

    @usableFromInline init() {}

    @usableFromInline var count: Int { core.count }
    @usableFromInline var nodeCount: Int { core.nodes.count }

    @usableFromInline mutating func insert(_ prefix: IPv6Prefix) -> (node: Int32, inserted: Bool) {
        core.insert(prefix.address.bits, length: Int(prefix.length))
    }

    @usableFromInline mutating func remove(_ prefix: IPv6Prefix) -> Int32 {
        core.remove(prefix.address.bits, length: Int(prefix.length))
    }

    @usableFromInline func find(_ prefix: IPv6Prefix) -> Int32 {
        core.find(prefix.address.bits, length: Int(prefix.length))
    }

    @usableFromInline func longestMatch(_ address: IPv6Address) -> (node: Int32, length: UInt8) {
        core.longestMatch(address.bits)
    }

    @usableFromInline func forEach(_ body: (IPv6Prefix, Int32) throws -> Void) rethrows {
        try core.forEach { key, length, node in
            try body(IPv6Prefix(unchecked: IPv6Address(bits: key), length: UInt8(length)), node)
        }
    }

    @usableFromInline mutating func removeAll(keepingCapacity: Bool) {
        core.removeAll(keepingCapacity: keepingCapacity)
    }
}

// MARK: - PrefixTable

/// A longest-prefix-match table from IPv4 and IPv6 prefixes to values.
///
/// Keys are canonicalised: host bits are ignored, so "10.1.2.3/8" and "10.0.0.0/8" are the same
/// key, and enumeration reports the canonical form. The two families are separate tables; an
/// IPv4-mapped IPv6 address never matches an IPv4 prefix.
///
/// `longestMatch` and `lookup` do not allocate and run in time bounded by the address width;
/// they copy the value out, so with a value free of references (an integer ID, a small plain
/// struct) they touch no reference counts either. The table is a value type (copy-on-write), so
/// a control plane can build a new version while a data plane keeps reading an older copy.
public struct PrefixTable<Value> {
    @usableFromInline var ipv4 = IPv4Trie()
    @usableFromInline var ipv6 = IPv6Trie()
    /// Values by trie node index; nil for glue and free nodes.
    @usableFromInline var ipv4Values: [Value?] = []
    @usableFromInline var ipv6Values: [Value?] = []

    /// An empty table.
    public init() {}

    /// Number of prefixes in the table.
    @inlinable public var count: Int { ipv4.count + ipv6.count }

    /// True when the table holds no prefix.
    @inlinable public var isEmpty: Bool { count == 0 }

    // MARK: Exact-match access

    /// The value stored for exactly `prefix` (canonicalised); assigning nil removes it.
    @inlinable public subscript(prefix: IPv4Prefix) -> Value? {
        get {
            let node = ipv4.find(prefix)
            return node >= 0 ? ipv4Values[Int(node)] : nil
        }
        set {
            if let newValue { updateValue(newValue, forPrefix: prefix) } else { removeValue(forPrefix: prefix) }
        }
    }

    /// The value stored for exactly `prefix` (canonicalised); assigning nil removes it.
    @inlinable public subscript(prefix: IPv6Prefix) -> Value? {
        get {
            let node = ipv6.find(prefix)
            return node >= 0 ? ipv6Values[Int(node)] : nil
        }
        set {
            if let newValue { updateValue(newValue, forPrefix: prefix) } else { removeValue(forPrefix: prefix) }
        }
    }

    /// The value stored for exactly `prefix` (canonicalised); assigning nil removes it.
    @inlinable public subscript(prefix: IPPrefix) -> Value? {
        get {
            switch prefix {
            case .v4(let prefix): self[prefix]
            case .v6(let prefix): self[prefix]
            }
        }
        set {
            switch prefix {
            case .v4(let prefix): self[prefix] = newValue
            case .v6(let prefix): self[prefix] = newValue
            }
        }
    }

    /// Stores `value` for `prefix`; returns the value it replaced, if any.
    @discardableResult
    @inlinable public mutating func updateValue(_ value: Value, forPrefix prefix: IPv4Prefix) -> Value? {
        let node = Int(ipv4.insert(prefix).node)
        Self.grow(&ipv4Values, to: ipv4.nodeCount)
        let previous = ipv4Values[node]
        ipv4Values[node] = value
        return previous
    }

    /// Stores `value` for `prefix`; returns the value it replaced, if any.
    @discardableResult
    @inlinable public mutating func updateValue(_ value: Value, forPrefix prefix: IPv6Prefix) -> Value? {
        let node = Int(ipv6.insert(prefix).node)
        Self.grow(&ipv6Values, to: ipv6.nodeCount)
        let previous = ipv6Values[node]
        ipv6Values[node] = value
        return previous
    }

    /// Stores `value` for `prefix`; returns the value it replaced, if any.
    @discardableResult
    @inlinable public mutating func updateValue(_ value: Value, forPrefix prefix: IPPrefix) -> Value? {
        switch prefix {
        case .v4(let prefix): updateValue(value, forPrefix: prefix)
        case .v6(let prefix): updateValue(value, forPrefix: prefix)
        }
    }

    /// Removes exactly `prefix`; returns its value, or nil if it was absent.
    @discardableResult
    @inlinable public mutating func removeValue(forPrefix prefix: IPv4Prefix) -> Value? {
        let node = ipv4.remove(prefix)
        guard node >= 0 else { return nil }
        defer { ipv4Values[Int(node)] = nil }
        return ipv4Values[Int(node)]
    }

    /// Removes exactly `prefix`; returns its value, or nil if it was absent.
    @discardableResult
    @inlinable public mutating func removeValue(forPrefix prefix: IPv6Prefix) -> Value? {
        let node = ipv6.remove(prefix)
        guard node >= 0 else { return nil }
        defer { ipv6Values[Int(node)] = nil }
        return ipv6Values[Int(node)]
    }

    /// Removes exactly `prefix`; returns its value, or nil if it was absent.
    @discardableResult
    @inlinable public mutating func removeValue(forPrefix prefix: IPPrefix) -> Value? {
        switch prefix {
        case .v4(let prefix): removeValue(forPrefix: prefix)
        case .v6(let prefix): removeValue(forPrefix: prefix)
        }
    }

    /// Removes every prefix.
    @inlinable public mutating func removeAll(keepingCapacity: Bool = false) {
        ipv4.removeAll(keepingCapacity: keepingCapacity)
        ipv6.removeAll(keepingCapacity: keepingCapacity)
        ipv4Values.removeAll(keepingCapacity: keepingCapacity)
        ipv6Values.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Removes every entry for which `shouldRemove` is true.
    @inlinable public mutating func removeAll(where shouldRemove: (IPPrefix, Value) throws -> Bool) rethrows {
        var doomed: [IPPrefix] = []
        try forEach { prefix, value in
            if try shouldRemove(prefix, value) { doomed.append(prefix) }
        }
        for prefix in doomed { removeValue(forPrefix: prefix) }
    }

    // MARK: Longest-prefix match

    /// The most specific prefix containing `address`, with its value; nil if none does.
    @inlinable public func longestMatch(_ address: IPv4Address) -> (prefix: IPv4Prefix, value: Value)? {
        let match = ipv4.longestMatch(address)
        guard match.node >= 0, let value = ipv4Values[Int(match.node)] else { return nil }
        return (IPv4Prefix(unchecked: address, length: match.length).canonical, value)
    }

    /// The most specific prefix containing `address`, with its value; nil if none does.
    @inlinable public func longestMatch(_ address: IPv6Address) -> (prefix: IPv6Prefix, value: Value)? {
        let match = ipv6.longestMatch(address)
        guard match.node >= 0, let value = ipv6Values[Int(match.node)] else { return nil }
        return (IPv6Prefix(unchecked: address, length: match.length).canonical, value)
    }

    /// The most specific prefix containing `address`, with its value; nil if none does.
    @inlinable public func longestMatch(_ address: IPAddress) -> (prefix: IPPrefix, value: Value)? {
        switch address {
        case .v4(let address):
            guard let (prefix, value) = longestMatch(address) else { return nil }
            return (.v4(prefix), value)
        case .v6(let address):
            guard let (prefix, value) = longestMatch(address) else { return nil }
            return (.v6(prefix), value)
        }
    }

    /// The value of the most specific prefix containing `address`; nil if none does.
    @inlinable public func lookup(_ address: IPv4Address) -> Value? {
        let node = ipv4.longestMatch(address).node
        return node >= 0 ? ipv4Values[Int(node)] : nil
    }

    /// The value of the most specific prefix containing `address`; nil if none does.
    @inlinable public func lookup(_ address: IPv6Address) -> Value? {
        let node = ipv6.longestMatch(address).node
        return node >= 0 ? ipv6Values[Int(node)] : nil
    }

    /// The value of the most specific prefix containing `address`; nil if none does.
    @inlinable public func lookup(_ address: IPAddress) -> Value? {
        switch address {
        case .v4(let address): lookup(address)
        case .v6(let address): lookup(address)
        }
    }

    // MARK: Enumeration

    /// Calls `body` for every entry: IPv4 before IPv6, each in ascending `IPPrefix` order.
    @inlinable public func forEach(_ body: (IPPrefix, Value) throws -> Void) rethrows {
        try ipv4.forEach { prefix, node in
            if let value = ipv4Values[Int(node)] { try body(.v4(prefix), value) }
        }
        try ipv6.forEach { prefix, node in
            if let value = ipv6Values[Int(node)] { try body(.v6(prefix), value) }
        }
    }

    /// All entries in ascending prefix order.
    @inlinable public var entries: [(prefix: IPPrefix, value: Value)] {
        var result: [(prefix: IPPrefix, value: Value)] = []
        result.reserveCapacity(count)
        forEach { result.append(($0, $1)) }
        return result
    }

    @inlinable static func grow(_ values: inout [Value?], to count: Int) {
        if values.count < count {
            values.append(contentsOf: repeatElement(nil, count: count - values.count))
        }
    }
}

extension PrefixTable: Sendable where Value: Sendable {}
