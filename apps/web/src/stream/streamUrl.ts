/** Returns the WebSocket URL of /api/v1/stream on the page's own origin. */
export function streamUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/api/v1/stream`
}
