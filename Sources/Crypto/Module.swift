// WeftCrypto
public enum WeftCryptoModule { public static let name = "WeftCrypto" }
