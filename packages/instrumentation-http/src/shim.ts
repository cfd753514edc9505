// The wrap/unwrap pair of InstrumentationBase, handed to the framework patches.

export interface Shim {
  wrap<T extends object, K extends keyof T>(target: T, name: K, wrapper: (original: T[K]) => T[K]): void;
  unwrap<T extends object>(target: T, name: keyof T): void;
}
