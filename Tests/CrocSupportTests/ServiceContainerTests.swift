import Synchronization
import Testing

@testable import CrocSupport

final class Counter: Sendable {
    let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
}

struct Store { let id: Int }
struct Service { let store: Store }
struct A { let b: () }
struct B {}

@Suite("ServiceContainer")
struct ServiceContainerTests {
    @Test("singletons are built lazily, once; transients every time")
    func lifetimes() throws {
        let c = ServiceContainer()
        let built = Counter()
        c.register(Store.self) { _ in Store(id: built.next()) }
        c.register(Int.self, lifetime: .transient) { _ in built.next() * 100 }
        #expect(built.value.withLock { $0 } == 0)
        let s1: Store = try c.resolve()
        let s2: Store = try c.resolve()
        #expect(s1.id == 1 && s2.id == 1)
        let t1: Int = try c.resolve()
        let t2: Int = try c.resolve()
        #expect(t1 != t2)
    }

    @Test("factories resolve their own dependencies; names distinguish services")
    func dependencies() throws {
        let c = ServiceContainer()
        c.register(Store.self) { _ in Store(id: 1) }
        c.register(Store.self, name: "replica") { _ in Store(id: 2) }
        c.register(Service.self) { try Service(store: $0.resolve(Store.self, name: "replica")) }
        let s: Service = try c.resolve()
        #expect(s.store.id == 2)
        #expect(c.isRegistered(Store.self, name: "replica"))
    }

    @Test("a missing registration names the type and who needed it")
    func missing() {
        let c = ServiceContainer()
        c.register(Service.self) { try Service(store: $0.resolve()) }
        let e = #expect(throws: ServiceContainerError.self) { try c.resolve(Service.self) }
        #expect(e?.code == .missing)
        #expect(e?.key.hasSuffix("Store") == true)
        #expect(e?.description.contains("needed by") == true)
    }

    @Test("a cycle is reported with its chain instead of recursing forever")
    func circular() {
        let c = ServiceContainer()
        c.register(A.self) {
            _ = try $0.resolve(B.self)
            return A(b: ())
        }
        c.register(B.self) {
            _ = try $0.resolve(A.self)
            return B()
        }
        let e = #expect(throws: ServiceContainerError.self) { try c.resolve(A.self) }
        #expect(e?.code == .circular)
        #expect(e?.description.contains("A -> ") == true)
        #expect(e?.path.count == 2)
    }

    @Test("a throwing factory surfaces as factoryFailed with its message")
    func failing() {
        struct Boom: Error, CustomStringConvertible { var description: String { "disk full" } }
        let c = ServiceContainer()
        c.register(Store.self) { _ in throw Boom() }
        let e = #expect(throws: ServiceContainerError.self) { try c.resolve(Store.self) }
        #expect(e?.code == .factoryFailed)
        #expect(e?.detail == "disk full")
    }
}
