// Remembers the dark/light choice in a cookie so the server renders the right theme on the next visit.
export function saveTheme(mode) {
  const value = mode === "dark" ? "dark" : "light";
  document.cookie = `fluxweb.theme=${value}; path=/; max-age=31536000; samesite=lax`;
}
