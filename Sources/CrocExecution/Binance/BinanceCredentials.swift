import Foundation

/// A Binance API key pair. Never printed: `description` shows only the key's
/// first four characters, and the secret never leaves this type except as an
/// HMAC key.
public struct BinanceCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Sent as `X-MBX-APIKEY`.
    let apiKey: String
    /// Signs requests (HMAC-SHA256).
    let secretKey: String

    /// The environment variables `fromEnvironment()` reads.
    public static let apiKeyVariable = "BINANCE_API_KEY"
    /// The environment variables `fromEnvironment()` reads.
    public static let secretVariable = "BINANCE_API_SECRET"

    /// Creates credentials.
    public init(apiKey: String, secretKey: String) {
        self.apiKey = apiKey
        self.secretKey = secretKey
    }

    /// Reads `BINANCE_API_KEY` and `BINANCE_API_SECRET`.
    /// - Throws: `ExecutionError.authentication` naming the missing variable.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ExecutionError) -> BinanceCredentials {
        guard let key = environment[apiKeyVariable], !key.isEmpty else {
            throw .authentication(code: nil, message: "environment variable \(apiKeyVariable) is not set")
        }
        guard let secret = environment[secretVariable], !secret.isEmpty else {
            throw .authentication(code: nil, message: "environment variable \(secretVariable) is not set")
        }
        return BinanceCredentials(apiKey: key, secretKey: secret)
    }

    /// `BinanceCredentials(apiKey: abcd…, secret: ***)`.
    public var description: String { "BinanceCredentials(apiKey: \(apiKey.prefix(4))…, secret: ***)" }
    /// Same as `description`.
    public var debugDescription: String { description }
}
