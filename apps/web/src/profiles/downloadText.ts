/** Offers `text` to the browser as a file download named `fileName`. */
export function downloadText(text: string, fileName: string, mediaType: string): void {
  downloadBlob(new Blob([text], { type: mediaType }), fileName)
}

export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  document.body.append(link)
  link.click()
  link.remove()
  // The download has started by the next task, so the URL can go.
  setTimeout(() => URL.revokeObjectURL(url), 0)
}
