/**
 * What a failed connection says about itself. The SCIM client and the Keycloak reader both
 * tell an untrusted certificate (permanent: only a CA file helps) from a network hiccup
 * (transient), by the same codes.
 */

/** TLS failures that no retry can fix: the certificate chain is not trusted or does not match. */
const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isTlsTrustCode(code: string | undefined): boolean {
  return code !== undefined && TLS_TRUST_CODES.has(code);
}

/**
 * The first error `code` along the `cause` chain: fetch and undici wrap the system error
 * (`ECONNREFUSED`, a certificate code) in errors of their own.
 */
export function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; depth < 4; depth += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    const code: unknown = Reflect.get(current, 'code');
    if (typeof code === 'string') return code;
    current = Reflect.get(current, 'cause');
  }
  return undefined;
}
