// WeftOSPF
public enum WeftOSPFModule { public static let name = "WeftOSPF" }
