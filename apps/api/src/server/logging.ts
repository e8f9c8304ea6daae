import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * Fastify's request log lines, one per request on completion: info for
 * success and client errors (4xx are expected mistakes), error for server
 * faults (5xx). The start of a request is logged at debug only.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'request received')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const entry = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime),
    }
    if (reply.statusCode >= 500) reply.log.error(error ? { ...entry, err: error } : entry, 'request failed')
    else reply.log.info(entry, 'request completed')
  }
}
