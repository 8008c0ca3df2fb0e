import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import { ConfigError, describeError } from '../errors.js';

/**
 * An HTTP dispatcher that trusts the CA certificates in `caFile` in addition to the public roots,
 * so a Keycloak behind a private CA works without touching process-wide settings.
 */
export async function createTrustingDispatcher(caFile: string): Promise<Agent> {
  let pem: string;
  try {
    pem = await readFile(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError([`caFile "${caFile}" cannot be read: ${describeError(error)}`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError([`caFile "${caFile}" holds no PEM certificate`]);
  }
  return new Agent({ connect: { ca: [...rootCertificates, pem] } });
}
