// Typed reading of a composed YAML tree (Yams `Node`, which keeps each node's line and column),
// with every mismatch turned into a `ConfigError` that points at the offending node.
//
// Yams' decoders (`YAMLDecoder`, `Yams.load`) lose positions and accept what a configuration
// should not: duplicate keys (the last one silently wins), unknown keys, "010" read as octal 8,
// and "1:30" as the sexagesimal 90. So the configuration is read from the node tree instead,
// schema-driven: only keys the schema names are visited, which also bounds the work on a
// document that multiplies nodes through aliases.

internal import Yams

/// A YAML node together with its field path, for error messages.
struct ConfigValue {
    let node: Node
    /// E.g. `links[1].peerPubKey`.
    let path: String

    var mark: Mark? { node.mark }

    /// The path of a key below this value.
    func path(_ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }
}

/// Reads values for one configuration file and builds errors that name it.
struct ConfigReader {
    let fileName: String

    func error(at mark: Mark?, _ path: String, _ message: String) -> ConfigError {
        ConfigError(fileName: fileName, line: mark?.line, column: mark?.column, path: path, message: message)
    }

    func error(_ value: ConfigValue, _ message: String) -> ConfigError {
        error(at: value.mark, value.path, message)
    }

    /// Parses the YAML text into a node tree; nil for an empty document. Syntax errors keep
    /// libyaml's position and problem text.
    func compose(_ yaml: String) throws(ConfigError) -> Node? {
        if let (line, column) = YAMLNesting.firstTooDeep(yaml) {
            throw ConfigError(fileName: fileName, line: line, column: column, path: "",
                              message: "YAML nested deeper than \(YAMLNesting.limit) levels")
        }
        do {
            return try Yams.compose(yaml: yaml)
        } catch let failure as YamlError {
            throw syntaxError(failure)
        } catch {
            throw ConfigError(fileName: fileName, line: nil, column: nil, path: "",
                              message: "YAML syntax error: \(error)")
        }
    }

    private func syntaxError(_ failure: YamlError) -> ConfigError {
        switch failure {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return error(at: mark, "", "YAML syntax error: \(problem)\(detail)")
        case .reader(let problem, _, _, _):
            return error(at: nil, "", "cannot read YAML text: \(problem)")
        default:
            return error(at: nil, "", "YAML syntax error: \(failure)")
        }
    }

    // MARK: Mappings

    /// Checks that `value` is a mapping whose keys are plain strings, each given once and each
    /// one of `keys`; unknown keys get a "did you mean" suggestion when one is close.
    func mapping(_ value: ConfigValue, keys: [String]) throws(ConfigError) -> ConfigMapping {
        guard case .mapping(let mapping) = value.node else {
            throw error(value, "expected a mapping, got \(Self.describe(value.node))")
        }
        var entries: [String: ConfigMapping.Entry] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw error(at: keyNode.mark, value.path, "keys must be plain strings, got \(Self.describe(keyNode))")
            }
            let key = scalar.string
            let keyPath = value.path(key)
            if let first = entries[key] {
                let line = first.key.mark.map { " (first given on line \($0.line))" } ?? ""
                throw error(at: keyNode.mark, keyPath, "duplicate key\(line)")
            }
            guard keys.contains(key) else {
                let hint: String
                if let suggestion = Suggestion.closest(to: key, among: keys) {
                    hint = "did you mean \"\(suggestion)\"?"
                } else {
                    hint = "expected one of: " + keys.joined(separator: ", ")
                }
                throw error(at: keyNode.mark, keyPath, "unknown key (\(hint))")
            }
            entries[key] = ConfigMapping.Entry(key: keyNode, value: valueNode)
        }
        return ConfigMapping(path: value.path, mark: value.mark, entries: entries)
    }

    /// The value of `key`, or an error at the mapping that lacks it.
    func required(_ mapping: ConfigMapping, _ key: String) throws(ConfigError) -> ConfigValue {
        guard let value = mapping[key] else {
            throw error(at: mapping.mark, mapping.path(key), "required but missing")
        }
        return value
    }

    // MARK: Scalars

    /// The text of a scalar. Plain scalars that YAML would read as numbers or booleans are
    /// taken as written (`name: 1234` is the name "1234"); null is "no value", not "".
    func string(_ value: ConfigValue) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = value.node else {
            throw error(value, "expected a string, got \(Self.describe(value.node))")
        }
        if Self.isNull(value.node) { throw error(value, "has no value") }
        return scalar.string
    }

    /// A plain decimal integer within `range`. Quoted numbers are strings; YAML 1.1's octal
    /// ("010"), hexadecimal, binary, "1_000" and sexagesimal ("1:30") forms are refused, so a
    /// number always means what it looks like.
    func integer(_ value: ConfigValue, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = value.node else {
            throw error(value, "expected an integer, got \(Self.describe(value.node))")
        }
        if Self.isNull(value.node) { throw error(value, "has no value") }
        guard scalar.style == .plain || scalar.style == .any, value.node.tag == Tag(.int) else {
            throw error(value, "expected an integer, got \(Self.describe(value.node))")
        }
        let text = scalar.string
        let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count == 1 || digits.first != UInt8(ascii: "0") else {
            throw error(value, "write integers in plain decimal, got \"\(text)\"")
        }
        // 18 digits always fit in Int; anything longer is out of every range used here.
        guard digits.count <= 18, let number = Int(text), range.contains(number) else {
            throw error(value, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// A YAML boolean (true/false, and YAML 1.1's yes/no/on/off).
    func bool(_ value: ConfigValue) throws(ConfigError) -> Bool {
        if Self.isNull(value.node) { throw error(value, "has no value") }
        guard value.node.tag == Tag(.bool), let flag = value.node.bool else {
            throw error(value, "expected true or false, got \(Self.describe(value.node))")
        }
        return flag
    }

    // MARK: Lists

    /// The elements of a YAML list, each with its indexed path.
    func list(_ value: ConfigValue) throws(ConfigError) -> [ConfigValue] {
        guard case .sequence(let sequence) = value.node else {
            throw error(value, "expected a list, got \(Self.describe(value.node))")
        }
        return sequence.enumerated().map { ConfigValue(node: $1, path: "\(value.path)[\($0)]") }
    }

    /// A list of scalars, where a single scalar stands for a list of one (`nodeVPNIP: 10.0.0.1/32`).
    func scalarOrList(_ value: ConfigValue) throws(ConfigError) -> [ConfigValue] {
        if case .scalar = value.node {
            if Self.isNull(value.node) { throw error(value, "has no value") }
            return [value]
        }
        return try list(value)
    }

    // MARK: Descriptions

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return (scalar.style == .plain || scalar.style == .any) && node.tag == Tag(.null)
    }

    /// What a node is, for "expected X, got Y" messages. Strings are cut short; no caller
    /// passes a secret-bearing node here except when it is not a scalar.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            if isNull(node) { return "nothing" }
            let text = scalar.string
            let plain = scalar.style == .plain || scalar.style == .any
            if plain && node.tag == Tag(.int) { return "the integer \(text)" }
            if plain && node.tag == Tag(.float) { return "the number \(text)" }
            if plain && node.tag == Tag(.bool) { return "the boolean \(text)" }
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            return "the string \"\(shown)\""
        }
    }
}

/// A mapping whose keys were checked by `ConfigReader.mapping(_:keys:)`.
struct ConfigMapping {
    struct Entry {
        let key: Node
        let value: Node
    }

    let path: String
    let mark: Mark?
    fileprivate let entries: [String: Entry]

    /// The value of `key` with its path, if the key is present.
    subscript(key: String) -> ConfigValue? {
        entries[key].map { ConfigValue(node: $0.value, path: path(key)) }
    }

    /// Where `key` itself is written.
    func keyMark(_ key: String) -> Mark? {
        entries[key]?.key.mark
    }

    func path(_ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }
}

/// "Did you mean" for misspelt keys and names.
enum Suggestion {
    /// The candidate closest to `word` by edit distance (ignoring case), if it is close enough
    /// to be a plausible typo: at most 2 edits, and fewer than half the candidate's length.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = Array(word.lowercased().unicodeScalars)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let target = Array(candidate.lowercased().unicodeScalars)
            let distance = editDistance(lowered, target)
            guard distance <= 2, distance * 2 < target.count else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit (optimal string
    /// alignment), two rows at a time.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                var cost = min(previous[j] + 1, current[j - 1] + 1, substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    cost = min(cost, previousPrevious[j - 2] + 1)
                }
                current[j] = cost
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
