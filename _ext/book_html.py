"""Sphinx extension: the book's fix to the HTML pages that Jupyter Book 1 writes.

sphinx-thebe adds its settings script (``const THEBE_JS_URL = ...``) with
``app.add_js_file(None, body=...)`` once the HTML builder exists. Sphinx 7 then holds that script
twice, once under the file name ``None`` and once under ``''``, and every page includes both: the
second is a JavaScript error ("Identifier 'THEBE_JS_URL' has already been declared"). This
extension drops the second copy of any script from each page.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical scripts in the page's ``script_files`` (changed in place)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # the builder restores its own list after each page


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
