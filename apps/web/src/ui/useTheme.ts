import { useEffect, useState } from 'react'

export type Theme = 'system' | 'light' | 'dark'

const storageKey = 'blackhole.theme'

function readTheme(): Theme {
  try {
    const stored = localStorage.getItem(storageKey)
    if (stored === 'light' || stored === 'dark') return stored
  } catch {
    // Storage disabled: follow the system setting.
  }
  return 'system'
}

/**
 * Returns the chosen theme and a setter. "system" follows
 * prefers-color-scheme; the others set data-theme on <html>, which the
 * stylesheet prefers over the media query.
 */
export function useTheme(): [Theme, (theme: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(readTheme)

  useEffect(() => {
    const root = document.documentElement
    if (theme === 'system') delete root.dataset.theme
    else root.dataset.theme = theme
    try {
      if (theme === 'system') localStorage.removeItem(storageKey)
      else localStorage.setItem(storageKey, theme)
    } catch {
      // See readTheme.
    }
  }, [theme])

  return [theme, setTheme]
}
