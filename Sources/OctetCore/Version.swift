/// Octet's release version, printed by `octet --version`; later engine files record it too.
public enum OctetVersion {
    public static let current = "0.1.0"
}
