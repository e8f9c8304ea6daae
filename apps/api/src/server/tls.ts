import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'

/** HTTPS settings: PEM certificate chain and key, and CA certificates that client certificates must chain to. */
export interface TlsOptions {
  cert: Buffer | string
  key: Buffer | string
  /** Set for mutual TLS: clients without a certificate signed by one of these are rejected during the handshake. */
  clientCa?: Buffer | string
}

/** Returns the options for Node's https.createServer. */
export function httpsServerOptions(tls: TlsOptions) {
  const mutual = tls.clientCa !== undefined
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2' as const,
    ...(mutual ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  }
}

/**
 * Returns the verified client certificate's subject as `CN=...,O=...`, or
 * null over plain HTTP or TLS without a client certificate.
 */
export function clientCertificateSubject(request: FastifyRequest): string | null {
  const socket = request.raw.socket as Partial<TLSSocket>
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return null
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined
  if (subject === undefined) return null
  const parts = Object.entries(subject).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
  return parts.length === 0 ? null : parts.join(',')
}
