import { useTheme, type Theme } from './useTheme.js'

const nextTheme: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' }

/** A button that cycles the theme: system, light, dark. */
export function ThemeToggle() {
  const [theme, setTheme] = useTheme()
  return (
    <button
      type="button"
      className="button-quiet"
      onClick={() => setTheme(nextTheme[theme])}
      aria-label={`Theme: ${theme}`}
      title={`Theme: ${theme}. Switch to ${nextTheme[theme]}.`}
    >
      <span className="wide-only">Theme: </span>
      {theme}
    </button>
  )
}
