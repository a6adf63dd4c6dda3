// A guard against deeply nested YAML, run before Yams composes the node tree.
//
// Yams builds (and later frees) the tree recursively, several stack frames per nesting level:
// a 20 KB file of "[[[[…" overflows the stack and crashes the process (measured in a debug
// build: 10,000 levels crash a test thread, 50,000 a thread with a 64 MB stack). A node
// configuration is five collections deep at most (top / links / [i] / ospf / auth), so any
// document nested beyond `limit` is refused before it is composed.
//
// The depth is counted on libyaml's own event stream, the same one Yams composes from, so the
// count is exact whatever the quoting, block scalars or flow style. libyaml is the copy bundled
// with Yams (its `CYaml` module, which Yams imports itself): importing it here avoids a second
// YAML parser and any guesswork about YAML's grammar.

internal import CYaml

/// Measures how deep the composed tree of a YAML document will be.
///
/// An alias does not nest in the event stream but does in the tree: it stands for the whole
/// anchored node, and a chain of anchors that each alias the previous one builds a tree far
/// deeper than any single collection (and Yams frees it recursively). So each anchored node's
/// height is remembered and an alias counts with the height of its target.
enum YAMLNesting {
    /// Deepest tree accepted; generous for the schema, tiny for the stack.
    static let limit = 64

    /// An open collection during the scan.
    private struct Frame {
        var anchor: String?
        var line: Int
        var column: Int
        /// Height of the tallest child so far, in collection levels (a scalar is 0).
        var tallestChild = 0
    }

    /// Nil when the tree of `yaml` is at most `limit` deep; otherwise the 1-based line and
    /// column of the node that makes it deeper. A syntax error ends the scan without a finding:
    /// the composer meets the same error at the same place and reports it.
    static func firstTooDeep(_ yaml: String) -> (line: Int, column: Int)? {
        var text = yaml
        return text.withUTF8 { bytes -> (line: Int, column: Int)? in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var open: [Frame] = []
            var heights: [String: Int] = [:]
            /// Records a finished child of height `height`; false when the tree gets too deep.
            func finish(_ height: Int) -> Bool {
                if !open.isEmpty { open[open.count - 1].tallestChild = max(open[open.count - 1].tallestChild, height) }
                return open.count + height <= limit
            }
            // Every call consumes input or ends the stream, so the loop is bounded by the text.
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let mark = (line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT
                        ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                    open.append(Frame(anchor: anchor.map { String(cString: $0) }, line: mark.line, column: mark.column))
                    if open.count > limit { return mark }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let frame = open.popLast() else { return nil }
                    let height = frame.tallestChild + 1
                    if let anchor = frame.anchor { heights[anchor] = height }
                    if !finish(height) { return (frame.line, frame.column) }
                case YAML_SCALAR_EVENT:
                    if let anchor = event.data.scalar.anchor { heights[String(cString: anchor)] = 0 }
                    _ = finish(0)
                case YAML_ALIAS_EVENT:
                    let height = event.data.alias.anchor.flatMap { heights[String(cString: $0)] } ?? 0
                    if !finish(height) { return mark }
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
        }
    }
}
