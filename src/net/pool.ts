// Stable `--pod-cidr` allocation for a store that changes one workload at a time: the lowest free
// host address goes to the next workload that needs one, a removed workload's address returns to
// the pool, and nobody else is ever renumbered. Over a fresh batch (workloads in id order) it
// hands out exactly what `allocateAddresses` lists, so a batch build and a sequence of upserts
// agree.
import type { IpAddress } from './address.ts';
import { ipv4, ipv6 } from './address.ts';
import type { Cidr } from './cidr.ts';

export class AddressPool {
  readonly cidr: Cidr;
  readonly #first: bigint;
  readonly #size: bigint;
  #next: bigint;
  /** Offsets given back, ascending. */
  readonly #freed: bigint[] = [];

  constructor(cidr: Cidr) {
    this.cidr = cidr;
    // Host numbering as allocateAddresses: skip the network (and IPv4 broadcast) address.
    if (cidr.family === 4) {
      const size = 2 ** (32 - cidr.prefix);
      this.#first = BigInt(size > 2 ? 1 : 0);
      this.#size = BigInt(size > 2 ? size - 2 : size);
    } else {
      const size = 1n << BigInt(128 - cidr.prefix);
      this.#first = size > 2n ? 1n : 0n;
      this.#size = size - this.#first;
    }
    this.#next = 0n;
  }

  #address(offset: bigint): IpAddress {
    const off = this.#first + offset;
    return this.cidr.family === 4 ? ipv4(this.cidr.base + Number(off)) : ipv6(this.cidr.base + off);
  }

  /** The lowest free address that `taken` does not claim, or undefined when the pool is exhausted. */
  take(taken: (a: IpAddress) => boolean): IpAddress | undefined {
    while (this.#freed.length > 0) {
      const a = this.#address(this.#freed.shift()!);
      if (!taken(a)) return a;
    }
    while (this.#next < this.#size) {
      const a = this.#address(this.#next++);
      if (!taken(a)) return a;
    }
    return undefined;
  }

  /** Gives an address back (ignored when it is not from this pool). */
  release(a: IpAddress): void {
    const c = this.cidr;
    let raw: bigint;
    if (a.family === 4 && c.family === 4) raw = BigInt(a.value - c.base);
    else if (a.family === 6 && c.family === 6) raw = a.value - c.base;
    else return;
    const off = raw - this.#first;
    if (off < 0n || off >= this.#next) return;
    let lo = 0;
    let hi = this.#freed.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#freed[mid]! < off) lo = mid + 1;
      else hi = mid;
    }
    if (this.#freed[lo] !== off) this.#freed.splice(lo, 0, off);
  }
}
