// WeftControlShim
public enum WeftControlShimModule { public static let name = "WeftControlShim" }
