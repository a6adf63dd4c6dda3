// WeftRouting
public enum WeftRoutingModule { public static let name = "WeftRouting" }
