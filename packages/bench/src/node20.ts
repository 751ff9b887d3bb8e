/**
 * execa 10 declares `engines.node >= 22`; on Node 20 the one thing it lacks is
 * `Set.prototype.union` (ES2025), called once when execa's module loads
 * (lib/arguments/encoding-option.js). This shim, imported before execa, supplies it; nothing else
 * of execa needs Node 22 (checked by grepping execa 10.2.1 and its dependencies). It is not on any
 * timed path.
 */
const proto = Set.prototype as { union?: (other: Iterable<unknown>) => Set<unknown> }
if (typeof proto.union !== "function") {
  Object.defineProperty(Set.prototype, "union", {
    configurable: true,
    writable: true,
    value: function union(this: Set<unknown>, other: Iterable<unknown>): Set<unknown> {
      const out = new Set(this)
      for (const v of other) out.add(v)
      return out
    }
  })
}

export {}
