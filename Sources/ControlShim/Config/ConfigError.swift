// The one error type of node configuration loading. It is built to be printed as a single line
// in the form compilers use (`file:line:column: …`), so that editors and terminals can jump to it
// and so that `weft check` can print it unchanged.

/// A problem in a node configuration file: where it is and what is wrong.
///
/// Printed (`description`) as one line:
///
///     site-a.yaml:14:5: links[1].peerPubKey: not a valid WireGuard key (…)
///
/// The field path uses the YAML keys, with 0-based list indexes in brackets. Secret values
/// (keys, pre-shared keys, OSPF authentication keys) never appear in a message.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The configuration file as it was named to `load(path:)` or `parse(yaml:fileName:)`.
    public var fileName: String
    /// 1-based line of the offending YAML node; nil when the problem has no place in the file
    /// (the file cannot be read).
    public var line: Int?
    /// 1-based column (in Unicode scalars, as libyaml counts) of the offending node.
    public var column: Int?
    /// The field, e.g. `links[1].peerPubKey`; empty for problems with the file as a whole.
    public var path: String
    /// What is wrong, in one line.
    public var message: String

    public init(fileName: String, line: Int?, column: Int?, path: String, message: String) {
        self.fileName = fileName
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `file:line:column: path: message`; parts that are unknown are left out.
    public var description: String {
        var text = fileName
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": "
        if !path.isEmpty { text += path + ": " }
        return text + message
    }
}
