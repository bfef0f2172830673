"""Check the built book in headless Chromium as a reader would use it, on a desktop and a phone.

    make book                                                      # builds _build/html
    apt-get install chromium                                       # the browser it drives
    .venv/bin/pip install -c constraints.txt -e ".[site-check]"    # playwright, without a browser
    .venv/bin/python scripts/check_site.py _build/html --screenshots _build/site-check

(``make site-check`` runs the last two lines.) The site is served on 127.0.0.1 and opened at
1280 px (desktop) and 390 px (phone), in light and dark mode, each time in a fresh browser profile.
Requests to any other host are refused, as on a machine without a network; MathJax is served from
a local copy if ``--mathjax DIR`` names MathJax 3's ``es5`` folder (npm's ``mathjax`` package), so
that the equations are typeset and measured.

What is checked (the exit status is 1 if anything failed):

- phone: tapping the visible ☰ opens the chapter list, and tapping a chapter in it goes there;
  the page-contents button opens the list of the page's sections;
- desktop: ☰ hides the chapter list; the header holds exactly one search box and no extra bar;
- the first page's text links every chapter of the chapter list;
- every page, both widths, both colour modes: no JavaScript error, and nothing wider than the
  screen (the page never slides sideways);
- desktop: every code cell and printed output, collapsed ones opened, fits its box (no sideways
  scroll bar, nothing clipped); the report lists the ones that do not, per page, with the cell's
  number on the page and its first line;
- desktop: every figure's smallest label is at least ``--min-label-px`` px high. The estimate:
  a label of p points in a PNG of d dpi is p / 72 * d pixels of the image, and the page shows the
  image at (shown width / natural width) of its size. p is the smallest of the book's style
  (cnn_lib.viz), viz.SMALL_FONT_PT where the cell (or a function it calls that an earlier cell
  defines) uses show_images, show_matrix or sliding_window_animation, and any ``fontsize=N``
  there. A size given another way (``fontsize="small"``, rcParams set in a chapter) is not seen.

Reported, not failed: each figure's label size on the phone, and the display equations that
scroll sideways on the phone.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import posixpath
import re
import shutil
import struct
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/"
HELPERS_WITH_SMALL_TEXT = ("show_images", "show_matrix", "sliding_window_animation")


@dataclass
class Report:
    """What passed and what failed, in the order checked."""

    passes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passes.append(what)
        else:
            self.failures.append(f"{what}: {detail}" if detail else what)
        return ok


# ----------------------------------------------------------------------------------------------
# The site
# ----------------------------------------------------------------------------------------------


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on 127.0.0.1 on a free port, in a daemon thread: (server, base URL)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the report says what matters; no access log
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def pages_in_reading_order(root: Path) -> list[str]:
    """The first page, then the pages its chapter list links, in order (paths under ``root``).

    Jupyter Book's index.html only redirects (a meta refresh) to the first page.
    """
    index = (root / "index.html").read_text(encoding="utf-8")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', index, re.IGNORECASE)
    first = redirect.group(1) if redirect else "index.html"
    html = (root / first).read_text(encoding="utf-8")
    nav = html.split("bd-docs-nav", 1)[-1].split("</nav>", 1)[0]
    pages = [first]
    for href in re.findall(r'href="([^"#]+\.html)', nav):
        path = posixpath.normpath(posixpath.join(posixpath.dirname(first), href))
        if path not in pages and (root / path).exists():
            pages.append(path)
    return pages


# ----------------------------------------------------------------------------------------------
# Figures: how large their labels show
# ----------------------------------------------------------------------------------------------


def png_dpi(data: bytes) -> float | None:
    """Dots per inch stored in a PNG's pHYs chunk (matplotlib writes the figure's dpi), or None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"pHYs":
            per_unit, _, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            return per_unit * 0.0254 if unit == 1 else None  # pixels per metre -> per inch
        if kind == b"IDAT":  # pHYs comes before the image data or not at all
            return None
        pos += 12 + length
    return None


def image_bytes(root: Path, base: str, src: str) -> bytes | None:
    """The bytes of an image the page shows: a data: URL, or a file of the served site."""
    if src.startswith("data:image/png;base64,"):
        return base64.b64decode(src.split(",", 1)[1])
    if src.startswith(base):
        path = root / unquote(urlparse(src).path).lstrip("/")
        return path.read_bytes() if path.is_file() else None
    return None


def book_style_pt() -> tuple[float, float]:
    """(smallest font size of the book's matplotlib style, viz.SMALL_FONT_PT), in points."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    from cnn_lib import viz

    keys = ["font.size", "xtick.labelsize", "ytick.labelsize", "axes.labelsize",
            "axes.titlesize", "legend.fontsize", "figure.titlesize"]  # fmt: skip
    with mpl.rc_context():
        mpl.rcParams.update(viz.BOOK_STYLE)
        style = min(FontProperties(size=mpl.rcParams[k]).get_size_in_points() for k in keys)
    return style, float(viz.SMALL_FONT_PT)


def figure_font_pt(source: str, defined: dict[str, str], style_pt: float, small_pt: float) -> float:
    """The smallest font size, in points, that the figure drawn by the cell ``source`` uses.

    ``defined`` maps the names of functions that the page's cells define to those cells' code:
    a call to one of them counts what that code draws too.
    """
    texts = [source] + [code for name, code in defined.items() if re.search(rf"\b{name}\(", source)]
    sizes = [style_pt]
    for text in texts:
        if any(re.search(rf"\b{helper}\(", text) for helper in HELPERS_WITH_SMALL_TEXT):
            sizes.append(small_pt)
        sizes += [float(x) for x in re.findall(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", text)]
    return min(sizes)


def label_px(pt: float, dpi: float, natural_px: float, shown_px: float) -> float:
    """CSS px height of a pt-point label in a PNG of ``dpi`` shown at shown_px of natural_px."""
    return pt / 72 * dpi * shown_px / natural_px


# ----------------------------------------------------------------------------------------------
# Measurements made in the page (JavaScript)
# ----------------------------------------------------------------------------------------------

# Elements that stick out past the right edge of the screen with no scrolling box around them.
JS_OVERFLOWING = """() => {
  const W = document.documentElement.clientWidth, found = [];
  const clips = el => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(el).overflowX);
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (r.width === 0 || r.right <= W + 1 || s.visibility === 'hidden' || s.position === 'fixed')
      continue;
    let p = el.parentElement, clipped = false;
    for (; p && p !== document.body; p = p.parentElement) if (clips(p)) { clipped = true; break; }
    const parent = el.parentElement;
    if (clipped || (parent !== document.body && parent.getBoundingClientRect().right > W + 1))
      continue;  // inside a scrolling box, or not the outermost element that sticks out
    found.push({tag: el.tagName.toLowerCase(), cls: String(el.className).slice(0, 40),
                text: (el.textContent || '').trim().split('\\n')[0].slice(0, 60),
                right: Math.round(r.right)});
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: W, found: found.slice(0, 5)};
}"""

# Code cells whose input or output needs a sideways scroll bar or sticks out of the cell's box.
JS_CODE_OVERFLOW = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });  // collapsed cells too
  const first = cell => { const pre = cell.querySelector('.cell_input pre');
    return pre ? pre.textContent.split('\\n').find(l => l.trim()) || '' : '(no input shown)'; };
  const out = [];
  [...document.querySelectorAll('div.cell')].forEach((cell, i) => {
    const box = cell.getBoundingClientRect();
    if (box.width === 0) return;
    const worst = {input: 0, output: 0};
    const parts = 'pre, .output, .cell_output > *, table, .animation, img';
    for (const el of cell.querySelectorAll(parts)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      const part = el.closest('.cell_input') ? 'input' : 'output';
      const hidden = el.scrollWidth - el.clientWidth, past = r.right - box.right;
      worst[part] = Math.max(worst[part], Math.round(Math.max(hidden, past)));
    }
    for (const part of ['input', 'output'])
      if (worst[part] > 1) out.push({cell: i + 1, part, px: worst[part], line: first(cell)});
  });
  return out;
}"""

# The code box of the first code cell shown open: its width, and how many characters it holds.
JS_CODE_BOX = """() => {
  const pre = [...document.querySelectorAll('div.cell_input pre')].find(p => !p.closest('details'));
  if (!pre) return null;
  const s = getComputedStyle(pre), probe = document.createElement('span');
  probe.textContent = '0'.repeat(100); pre.appendChild(probe);
  const ch = probe.getBoundingClientRect().width / 100; probe.remove();
  const inner = pre.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  return {width: Math.round(pre.getBoundingClientRect().width), chars: Math.floor(inner / ch),
          fontPx: parseFloat(s.fontSize)};
}"""

JS_CELL_SOURCES = """() => [...document.querySelectorAll('div.cell')].map(cell => {
  const pre = cell.querySelector('.cell_input pre'); return pre ? pre.textContent : ''; })"""

JS_FIGURES = """() => {
  const cells = [...document.querySelectorAll('div.cell')];
  return [...document.querySelectorAll('div.cell_output img')].map(img => ({
    src: img.currentSrc || img.src, natural: img.naturalWidth,
    shown: img.getBoundingClientRect().width, cell: cells.indexOf(img.closest('div.cell'))}));
}"""

JS_WIDE_EQUATIONS = """() => {
  const W = document.documentElement.clientWidth;
  const items = window.MathJax && MathJax.startup && MathJax.startup.document
    ? MathJax.startup.document.getMathItemsWithin(document.body) : [];
  return items.filter(item => item.display && item.typesetRoot).filter(item => {
    const el = item.typesetRoot, r = el.getBoundingClientRect();
    return r.width > 0 && (el.scrollWidth > el.clientWidth + 1 || r.right > W + 1);
  }).map(item => item.math.replace(/\\s+/g, ' ').trim().slice(0, 70));
}"""


# ----------------------------------------------------------------------------------------------
# The browser
# ----------------------------------------------------------------------------------------------


def default_chromium() -> str:
    """Debian's Chromium binary (its /usr/bin/chromium is a shell wrapper), or the one on PATH."""
    debian = Path("/usr/lib/chromium/chromium")
    return str(debian) if debian.exists() else shutil.which("chromium") or "chromium"


def offline(context, mathjax: Path | None, refused: set[str]) -> None:
    """Let the pages reach 127.0.0.1 only; serve MathJax's CDN files from ``mathjax``."""

    def handle(route):
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1":
            return route.continue_()
        if mathjax and url.startswith(MATHJAX_CDN):
            local = mathjax / urlparse(url).path.split("/es5/", 1)[1]
            if local.is_file():
                return route.fulfill(path=str(local))
        refused.add(urlparse(url).hostname or url)
        return route.abort()

    context.route("**/*", handle)


def visible(page, selector: str):
    """The first element matching ``selector`` that is visible, or None."""
    return next((h for h in page.query_selector_all(selector) if h.is_visible()), None)


def in_view(page, handle) -> bool:
    box, width = handle.bounding_box(), page.viewport_size["width"]
    return bool(
        box and box["width"] > 0 and box["x"] >= -1 and box["x"] + box["width"] <= width + 1
    )


def wait_for(page, condition, timeout_ms: int = 3000):
    """Poll ``condition()`` until it returns something true (a sidebar slides in), or time out."""
    for _ in range(timeout_ms // 100):
        if result := condition():
            return result
        page.wait_for_timeout(100)
    return condition()


# ----------------------------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------------------------


def check_phone_navigation(new_context, base: str, pages: list[str], report: Report, shots):
    """Tap ☰, then a chapter far down the list; on a chapter, tap the page-contents button."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(base + pages[0], wait_until="load")
    target = pages[min(len(pages) - 1, 9)]  # nine "Next" taps away from the first page
    toggle = visible(page, ".primary-toggle")
    if report.check(toggle is not None, "phone: a ☰ button is visible"):
        toggle.tap()
        chapters = f'.bd-sidebar-primary a[href$="{posixpath.basename(target)}"]'
        link = wait_for(page, lambda: (h := visible(page, chapters)) and in_view(page, h) and h)
        if shots:
            page.screenshot(path=str(shots / "phone-menu-open.png"))
        if report.check(bool(link), "phone: tapping ☰ opens the chapter list", "no chapter shown"):
            try:
                with page.expect_navigation(timeout=5000):
                    link.tap()
            except PlaywrightTimeout:
                pass  # the check below says where the page stayed
            report.check(
                page.url.split("#")[0].endswith(target),
                f"phone: tapping a chapter in the list goes there ({target})",
                f"still at {page.url}",
            )
    page.goto(base + pages[min(1, len(pages) - 1)], wait_until="load")
    contents = visible(page, ".secondary-toggle")
    if report.check(contents is not None, "phone: a page-contents button is visible"):
        contents.tap()
        sections = ".bd-sidebar-secondary a.nav-link"
        section = wait_for(page, lambda: (h := visible(page, sections)) and in_view(page, h))
        if shots:
            page.screenshot(path=str(shots / "phone-contents-open.png"))
        report.check(
            bool(section),
            "phone: tapping the page-contents button opens the page's sections",
            "no section shown",
        )
    context.close()


def check_desktop_header(new_context, base: str, pages: list[str], report: Report):
    """One search box and no extra bar in the header; ☰ hides the chapter list."""
    context = new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(base + pages[min(1, len(pages) - 1)], wait_until="load")
    searches = [h for h in page.query_selector_all(".search-button-field") if h.is_visible()]
    report.check(
        len(searches) == 1, "desktop: the header holds exactly one search box", f"{len(searches)}"
    )
    bars = [h for h in page.query_selector_all("header#pst-header") if h.is_visible()]
    report.check(not bars, "desktop: no extra bar across the top", f"{len(bars)} shown")
    nav = page.query_selector(".bd-sidebar-primary")
    toggle = visible(page, ".primary-toggle")
    shown = nav is not None and nav.is_visible() and nav.bounding_box()["width"] > 50
    if report.check(toggle is not None and shown, "desktop: the chapter list and ☰ are shown"):
        toggle.click()

        def hidden():
            box = nav.bounding_box()
            return not nav.is_visible() or not box or box["x"] + box["width"] <= 1

        report.check(wait_for(page, hidden), "desktop: ☰ hides the chapter list", "it stays")
    context.close()


def check_first_page_links_every_chapter(root: Path, pages: list[str], report: Report):
    html = (root / pages[0]).read_text(encoding="utf-8")
    article = html.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
    folder = posixpath.dirname(pages[0])
    linked = {posixpath.normpath(posixpath.join(folder, h))
              for h in re.findall(r'href="([^"#]+\.html)', article)}  # fmt: skip
    missing = [p for p in pages[1:] if p not in linked]
    report.check(not missing, "the first page links every chapter", ", ".join(missing))


@dataclass
class PageFindings:
    code_box: dict | None = None
    overflowing: dict[str, list[dict]] = field(default_factory=dict)
    figures: dict[str, list[dict]] = field(default_factory=dict)  # per page, in page order
    phone_px: dict[str, list[float]] = field(default_factory=dict)
    wide_equations: dict[str, list[str]] = field(default_factory=dict)


def measure_figures(page, root, base, sizes) -> list[dict]:
    sources = page.evaluate(JS_CELL_SOURCES)
    defined = {m: src for src in sources for m in re.findall(r"^def (\w+)\(", src, re.MULTILINE)}
    found = []
    for fig in page.evaluate(JS_FIGURES):
        data = image_bytes(root, base, fig["src"])
        dpi = png_dpi(data) if data else None
        if not dpi or not fig["natural"] or not fig["shown"]:
            continue
        source = sources[fig["cell"]] if fig["cell"] >= 0 else ""
        pt = figure_font_pt(source, defined, *sizes)
        found.append({**fig, "dpi": dpi, "pt": pt, "source": source,
                      "px": label_px(pt, dpi, fig["natural"], fig["shown"])})  # fmt: skip
    return found


def check_pages(new_context, root, base, pages, report: Report, shots, full_page: bool):
    findings, sizes = PageFindings(), book_style_pt()
    for scheme in ("light", "dark"):
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            phone = name == "phone"
            context = new_context(
                viewport=viewport, is_mobile=phone, has_touch=phone, color_scheme=scheme
            )
            for path in pages:
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page.on(
                    "console",
                    lambda msg, errors=errors: (
                        errors.append(msg.text)
                        if msg.type == "error" and "Failed to load resource" not in msg.text
                        else None
                    ),  # a refused request is no error of the page's
                )
                page.goto(base + path, wait_until="load")
                page.wait_for_timeout(300)
                where = f"{name} {scheme} {path}"
                report.check(not errors, f"{where}: no JavaScript error", "; ".join(errors)[:300])
                wide = page.evaluate(JS_OVERFLOWING)
                report.check(
                    wide["scrollWidth"] <= wide["width"] + 1,
                    f"{where}: nothing wider than the screen",
                    f"{wide['scrollWidth']} px > {wide['width']} px: "
                    + "; ".join(
                        f"<{f['tag']} class='{f['cls']}'> '{f['text']}' to {f['right']} px"
                        for f in wide["found"]
                    ),
                )
                if shots:
                    stem = path.replace("/", "_").removesuffix(".html")
                    shot = shots / f"{stem}-{viewport['width']}-{scheme}.png"
                    page.screenshot(path=str(shot), full_page=full_page)
                if scheme == "light" and not phone:
                    findings.code_box = findings.code_box or page.evaluate(JS_CODE_BOX)
                    findings.figures[path] = measure_figures(page, root, base, sizes)
                    findings.overflowing[path] = page.evaluate(JS_CODE_OVERFLOW)
                if scheme == "light" and phone:
                    findings.phone_px[path] = [
                        f["px"] for f in measure_figures(page, root, base, sizes)
                    ]
                    if equations := page.evaluate(JS_WIDE_EQUATIONS):
                        findings.wide_equations[path] = equations
                page.close()
            context.close()
    return findings


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


def first_line(source: str) -> str:
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")[:60]


def print_report(root, base, pages, report: Report, found: PageFindings, min_px, refused):
    cells = [(p, c) for p, cs in found.overflowing.items() for c in cs]
    report.check(
        not cells, "desktop: every code cell and output fits its box", f"{len(cells)} do not"
    )
    figures = [(p, i, f) for p, fs in found.figures.items() for i, f in enumerate(fs)]
    small = [(p, f) for p, _, f in figures if f["px"] < min_px]
    report.check(not small, f"desktop: every figure's labels are at least {min_px:g} px",
                 f"{len(small)} figures below")  # fmt: skip

    print(f"site: {root} ({len(pages)} pages), served at {base}")
    if found.code_box:
        box = found.code_box
        print(f"desktop code box: {box['width']} px, {box['chars']} characters of "
              f"{box['fontPx']:g} px code")  # fmt: skip
    per_page = re.compile(r"(desktop|phone) (light|dark) ")
    print(f"\npassed: {len(report.passes)} checks, of which per page "
          f"({len(pages)} pages x 2 widths x 2 colour modes):")  # fmt: skip
    for kind in ("no JavaScript error", "nothing wider than the screen"):
        print(f"  ok  {sum(1 for p in report.passes if p.endswith(kind))} pages: {kind}")
    for line in report.passes:
        if not per_page.match(line):
            print(f"  ok  {line}")

    print(f"\ncode that does not fit the desktop code box: {len(cells)} cells")
    for path, c in cells:
        print(f"  {path} cell {c['cell']} {c['part']}: {c['px']} px too wide | {c['line'][:70]}")

    print(f"\nfigures: {len(figures)}, {len(small)} with labels below {min_px:g} px on the desktop")
    print("  page cell: natural px at dpi, shown on the desktop, smallest pt -> px desktop / phone")
    for path, i, f in figures:
        phone = found.phone_px.get(path, [])
        phone_px = f"{phone[i]:.1f}" if i < len(phone) else "?"
        flag = "SMALL " if f["px"] < min_px else ""
        print(f"  {flag}{path} cell {f['cell'] + 1}: {f['natural']} px at {f['dpi']:.0f} dpi, "
              f"shown at {f['shown'] / f['natural']:.0%}, {f['pt']:g} pt -> {f['px']:.1f} / "
              f"{phone_px} px | {first_line(f['source'])}")  # fmt: skip

    if found.wide_equations:
        n = sum(map(len, found.wide_equations.values()))
        print(f"\nphone: {n} display equations scroll sideways inside their box (not a failure):")
        for path, equations in found.wide_equations.items():
            for tex in equations:
                print(f"  {path}: {tex}")
    if refused:
        print(f"\nrequests refused (no network in this check): {', '.join(sorted(refused))}")
    print(f"\nfailed: {len(report.failures)}")
    for line in report.failures:
        print(f"  FAIL  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("html", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--screenshots", type=Path, help="write PNG screenshots into this folder")
    parser.add_argument("--full-page", action="store_true", help="screenshots of whole pages")
    parser.add_argument("--mathjax", type=Path, help="MathJax 3's es5 folder, served for the CDN")
    parser.add_argument("--chromium", default=default_chromium(), help="the browser's binary")
    parser.add_argument("--min-label-px", type=float, default=9.0)
    args = parser.parse_args(argv)
    root = args.html.resolve()
    if not (root / "index.html").is_file():
        parser.error(f"expected a built site with index.html in {root}; build it with `make book`")
    if not Path(args.chromium).exists() and not shutil.which(args.chromium):
        parser.error(f"no Chromium at {args.chromium}: apt-get install chromium, or --chromium")
    if args.mathjax and not (args.mathjax / "tex-mml-chtml.js").is_file():
        parser.error(f"expected MathJax 3's es5 folder (with tex-mml-chtml.js), got {args.mathjax}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.error('no playwright: .venv/bin/pip install -c constraints.txt -e ".[site-check]"')
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    server, base = serve(root)
    pages = pages_in_reading_order(root)
    report, refused = Report(), set()
    try:
        with sync_playwright() as pw:
            # launch() gives the browser a fresh, empty profile of its own (a new --user-data-dir).
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)

            def new_context(**options):
                context = browser.new_context(**options)
                offline(context, args.mathjax, refused)
                return context

            check_phone_navigation(new_context, base, pages, report, args.screenshots)
            check_desktop_header(new_context, base, pages, report)
            check_first_page_links_every_chapter(root, pages, report)
            found = check_pages(
                new_context, root, base, pages, report, args.screenshots, args.full_page
            )
            browser.close()
    finally:
        server.shutdown()
    print_report(root, base, pages, report, found, args.min_label_px, refused)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
