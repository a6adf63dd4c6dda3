#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Talks to a running interface over its UAPI socket: `weft show` uses the status extension.
public enum UAPIClient {
    public enum ClientError: Error, CustomStringConvertible {
        case noInterface(String)
        case protocolError(String)

        public var description: String {
            switch self {
            case .noInterface(let name):
                return "no running Weft interface named \(name) (no answer on \(UAPIServer.socketDirectory)/\(name).sock)"
            case .protocolError(let text): return "unexpected answer: \(text.prefix(200))"
            }
        }
    }

    /// Sends one request (its lines, without the final empty line) and returns the answer's
    /// lines before `errno=`, or throws with the errno the interface answered.
    public static func request(interface name: String, _ lines: [String]) throws -> [String] {
        let path = "\(UAPIServer.socketDirectory)/\(name).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError.noInterface(name) }
        defer { close(fd) }
        var address = UAPIServer.unixAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw ClientError.noInterface(name) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let text = lines.joined(separator: "\n") + "\n\n"
        _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var reader = LineReader(fd: fd, limit: 64 << 20)
        var answer: [String] = []
        while let line = reader.nextLine() {
            if line.hasPrefix("errno=") {
                guard line == "errno=0" else { throw ClientError.protocolError(line) }
                return answer
            }
            answer.append(line)
        }
        throw ClientError.protocolError(answer.joined(separator: "\n"))
    }

    /// The interface's packet counters.
    public static func status(interface name: String) throws -> StatusReport {
        let lines = try request(interface: name, [UAPIServer.statusOperation])
        guard let json = lines.first, let report = try? JSONDecoder().decode(StatusReport.self, from: Data(json.utf8))
        else { throw ClientError.protocolError(lines.joined(separator: "\n")) }
        return report
    }

    /// Names of interfaces with a live socket.
    public static func interfaces() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: UAPIServer.socketDirectory)) ?? []
        return names.filter { $0.hasSuffix(".sock") }.map { String($0.dropLast(5)) }
            .filter { UAPIServer.isLive("\(UAPIServer.socketDirectory)/\($0).sock") }.sorted()
    }
}
