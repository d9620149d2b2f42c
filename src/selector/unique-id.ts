// Unique ids: a short, stable name for a piece of content, Calico's `hash.MakeUniqueID`
// (libcalico-go/lib/hash/unique_id.go). Felix names a selector's IP set after its id, and a
// named-port IP set after `makeUniqueId('n', selectorId + ',' + protocol + ',' + portName)`
// (felix/calc/rule_scanner.go), so these must match Calico's exactly.
import { createHash } from 'node:crypto';

/** `prefix + ":" + base64url-without-padding(SHA-224(prefix + ":" + content))`, over UTF-8. */
export function makeUniqueId(prefix: string, content: string): string {
  const tagged = `${prefix}:${content}`;
  // Node's base64url digest is already unpadded, as Go's RawURLEncoding.
  return `${prefix}:${createHash('sha224').update(tagged, 'utf8').digest('base64url')}`;
}

/** A selector's id: the unique id of its canonical text with prefix `s`. */
export function makeSelectorId(canonical: string): string {
  return makeUniqueId('s', canonical);
}
