/** What the checkers' standalone HTML pages (and the run report's SVG) share. */

/** Escape text for HTML element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** The checker pages' common style: body font, code, verdict colours, the summary line. */
export const CHECKER_PAGE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}
.v-valid{color:#1a7f37}.v-invalid{color:#cf222e}.v-unknown{color:#9a6700}
.summary{font-weight:600}`;
