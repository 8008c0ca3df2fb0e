import { rootCertificates } from 'node:tls';

/**
 * The TLS trust of a RabbitMQ connection (amqplib hands its socket options to `tls.connect` for
 * `amqps://`): the public roots plus `ca`, the PEM text of a private CA (`AMQP_CA_FILE`), when
 * there is one. `run` and `check` both connect with it, so they trust the same certificates.
 */
export function amqpTrust(ca: string | undefined): { readonly ca?: string[] } {
  // Node's `ca` replaces the public roots; keep them, so that a private CA is an addition.
  return ca === undefined ? {} : { ca: [...rootCertificates, ca] };
}
