// WeftDataPlane
public enum WeftDataPlaneModule { public static let name = "WeftDataPlane" }
