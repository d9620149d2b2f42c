// Front door of `net`: IPv4/IPv6 addresses and CIDRs as numbers (parse, format, contain, allocate).
// Imports only `../diagnostics`.
export type { IpAddress, IpFamily, Ipv4Address, Ipv6Address, ParsedAddress } from './address.ts';
export {
  IPV4_BITS,
  IPV6_BITS,
  compareIp,
  familyBits,
  formatIp,
  ipEquals,
  ipv4,
  ipv6,
  parseAddressText,
  parseIp,
  tryParseIp,
} from './address.ts';
export type { Cidr, CidrMode, CidrText, Ipv4Cidr, Ipv6Cidr } from './cidr.ts';
export {
  cidrContains,
  cidrContainsCidr,
  cidrEquals,
  cidrFamily,
  cidrOfAddress,
  cidrOverlaps,
  cidrSize,
  formatCidr,
  ipv4Mask,
  ipv6Mask,
  isCatchAll,
  makeCidr,
  parseCidr,
  parseCidrLenient,
  parseCidrStrict,
  parseCidrText,
} from './cidr.ts';
export { allocateAddresses } from './allocate.ts';
export { AddressPool } from './pool.ts';
