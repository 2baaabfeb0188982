import Foundation

/// Why a dependency could not be resolved.
public struct ServiceContainerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// Nothing was registered for the key.
        case missing
        /// Resolving the key required itself (the chain is in `path`).
        case circular
        /// The factory threw; its message is in `detail`.
        case factoryFailed
    }

    /// The kind of failure.
    public var code: Code
    /// The service key (`Type` or `Type#name`).
    public var key: String
    /// The resolution chain that led here, outermost first.
    public var path: [String]
    /// Extra detail (the factory's error message).
    public var detail: String?

    /// A message for people.
    public var description: String {
        switch code {
        case .missing:
            let via = path.isEmpty ? "" : " (needed by \(path.joined(separator: " -> ")))"
            return "no service registered for \(key)\(via)"
        case .circular:
            return "circular dependency: \((path + [key]).joined(separator: " -> "))"
        case .factoryFailed:
            return "factory for \(key) failed: \(detail ?? "unknown error")"
        }
    }
}

/// Type-safe dependency injection: register factories by type (and an
/// optional name, as the blueprint's `container.register("strategy", ...)`),
/// resolve them lazily.
///
/// Singletons are built once, on first resolution. A missing registration or
/// a cycle is reported as a `ServiceContainerError` naming the chain, never a
/// crash. Resolution is serialised by a recursive lock so factories may
/// resolve their own dependencies from any thread.
public final class ServiceContainer: @unchecked Sendable {
    // @unchecked: every stored property is only touched while `lock` is held.
    /// How long a resolved instance lives.
    public enum Lifetime: Sendable {
        /// Built on first use, then shared.
        case singleton
        /// Built on every resolution.
        case transient
    }

    private struct Registration {
        let lifetime: Lifetime
        let factory: (ServiceContainer) throws -> Any
    }

    private let lock = NSRecursiveLock()
    private var registrations: [String: Registration] = [:]
    private var instances: [String: Any] = [:]
    private var resolving: [String] = []

    /// Creates an empty container.
    public init() {}

    private static func key<T>(_ type: T.Type, _ name: String?) -> String {
        let base = String(reflecting: type)
        return name.map { "\(base)#\($0)" } ?? base
    }

    /// Registers a factory for `type` (and `name`), replacing any earlier one.
    /// - Parameters:
    ///   - type: The type resolved.
    ///   - name: Distinguishes several services of one type.
    ///   - lifetime: `.singleton` (default) or `.transient`.
    ///   - factory: Builds the service; may resolve others from the container.
    public func register<T>(
        _ type: T.Type = T.self,
        name: String? = nil,
        lifetime: Lifetime = .singleton,
        factory: @escaping (ServiceContainer) throws -> T
    ) {
        let k = Self.key(type, name)
        lock.lock()
        defer { lock.unlock() }
        registrations[k] = Registration(lifetime: lifetime, factory: { try factory($0) })
        instances[k] = nil
    }

    /// Registers an already-built instance.
    public func register<T>(instance: T, as type: T.Type = T.self, name: String? = nil) {
        register(type, name: name, lifetime: .singleton) { _ in instance }
    }

    /// Whether a factory is registered.
    public func isRegistered<T>(_ type: T.Type, name: String? = nil) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return registrations[Self.key(type, name)] != nil
    }

    /// Resolves a service.
    /// - Throws: `ServiceContainerError` when it is missing, circular, or its factory fails.
    public func resolve<T>(_ type: T.Type = T.self, name: String? = nil) throws(ServiceContainerError) -> T {
        let k = Self.key(type, name)
        lock.lock()
        defer { lock.unlock() }
        if let existing = instances[k] as? T { return existing }
        guard let reg = registrations[k] else {
            throw ServiceContainerError(code: .missing, key: k, path: resolving)
        }
        if resolving.contains(k) {
            throw ServiceContainerError(code: .circular, key: k, path: resolving)
        }
        resolving.append(k)
        defer { resolving.removeLast() }
        let built: Any
        do {
            built = try reg.factory(self)
        } catch let e as ServiceContainerError {
            throw e  // keep the innermost, most precise error
        } catch {
            throw ServiceContainerError(code: .factoryFailed, key: k, path: resolving, detail: "\(error)")
        }
        guard let typed = built as? T else {
            throw ServiceContainerError(code: .factoryFailed, key: k, path: resolving, detail: "factory returned \(Swift.type(of: built))")
        }
        if reg.lifetime == .singleton { instances[k] = typed }
        return typed
    }
}
