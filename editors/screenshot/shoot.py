#!/usr/bin/env python3
"""The screenshot in docs/editors.md: Neovim (Debian's, with its own LSP
client) editing a copy of examples/ssh-hardening with a misspelt field,
run in a pseudo-terminal; its screen is read by the `pyte` terminal
emulator (PyPI), written out as HTML and photographed by headless Chromium.

    pip install pyte
    python3 editors/screenshot/shoot.py target/debug/assay docs/images/editor-neovim.png

Nothing here is a test; it regenerates an image for the documentation.
"""
import html, os, pty, select, shutil, subprocess, sys, tempfile, time

import pyte

COLS, ROWS = 110, 32
INIT = r"""
vim.opt.termguicolors = false
vim.opt.number = true
vim.opt.signcolumn = "yes"
vim.cmd("syntax on")
vim.cmd("highlight DiagnosticError ctermfg=red")
vim.cmd("highlight DiagnosticVirtualTextError ctermfg=red")
vim.cmd("highlight DiagnosticUnderlineError cterm=underline ctermfg=red")
vim.cmd("highlight DiagnosticWarn ctermfg=yellow")
vim.cmd("highlight DiagnosticVirtualTextWarn ctermfg=yellow")
vim.cmd("highlight NormalFloat ctermbg=237 ctermfg=252")
vim.cmd("highlight SignColumn ctermbg=NONE")
vim.cmd("highlight LineNr ctermfg=242")
vim.diagnostic.config({ virtual_text = { prefix = "■" }, underline = true, signs = true })
vim.api.nvim_create_autocmd("BufEnter", { pattern = "*.assay", callback = function(args)
  local client = vim.lsp.start_client({ name = "assay", cmd = { os.getenv("ASSAY_BIN"), "lsp" },
    root_dir = vim.fn.fnamemodify(args.file, ":p:h") })
  vim.lsp.buf_attach_client(args.buf, client)
  -- Once the diagnostic is in, its whole text (help and notes) in a float.
  vim.defer_fn(function()
    vim.fn.search("permit_root_logn")
    vim.diagnostic.open_float(0, { scope = "line", close_events = {} })
    vim.cmd("redraw")
  end, 5000)
end })
"""

# Palette of a dark terminal, for pyte's colour names.
COLOURS = {
    "default": None, "black": "#1e1e1e", "red": "#f14c4c", "green": "#23d18b", "brown": "#e5e510",
    "yellow": "#e5e510", "blue": "#3b8eea", "magenta": "#d670d6", "cyan": "#29b8db", "white": "#e5e5e5",
    "brightblack": "#666666", "brightred": "#f14c4c", "brightgreen": "#23d18b", "brightyellow": "#f5f543",
    "brightblue": "#3b8eea", "brightmagenta": "#d670d6", "brightcyan": "#29b8db", "brightwhite": "#ffffff",
}


def colour(name, fallback):
    if name in COLOURS:
        return COLOURS[name] or fallback
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name
    return fallback


def main():
    assay, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pkg = os.path.join(work, "ssh-hardening")
    shutil.copytree(os.path.join(repo, "examples", "ssh-hardening"), pkg)
    rules = os.path.join(pkg, "rules.assay")
    text = open(rules).read().replace("fail when host.sshd.permit_root_login !=", "fail when host.sshd.permit_root_logn !=", 1)
    open(rules, "w").write(text)
    init = os.path.join(work, "init.lua")
    open(init, "w").write(INIT)

    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update({"TERM": "xterm-256color", "ASSAY_BIN": assay, "COLUMNS": str(COLS), "LINES": str(ROWS)})
        os.chdir(pkg)
        os.execvp("nvim", ["nvim", "-u", init, "-c", "set columns=%d lines=%d" % (COLS, ROWS), "+14", rules])
    import fcntl, struct, termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    deadline = time.time() + 10
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                stream.feed(os.read(fd, 65536))
            except OSError:
                break
    os.write(fd, b"\x1b:qa!\r")
    time.sleep(0.3)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass

    cells = []
    for y in range(ROWS):
        row = screen.buffer[y]
        spans = []
        for x in range(COLS):
            ch = row[x]
            fg, bg = colour(ch.fg, "#d4d4d4"), colour(ch.bg, "#1e1e1e")
            if ch.reverse:
                fg, bg = bg, fg
            style = "color:%s;background:%s" % (fg, bg)
            if ch.bold:
                style += ";font-weight:bold"
            if ch.underscore:
                style += ";text-decoration:underline"
            spans.append('<span style="%s">%s</span>' % (style, html.escape(ch.data or " ")))
        cells.append("".join(spans))
    page = os.path.join(work, "screen.html")
    open(page, "w").write(
        "<!doctype html><meta charset=utf-8><body style='margin:0;background:#1e1e1e'>"
        "<pre style='margin:0;padding:8px;font:14px/1.25 DejaVu Sans Mono,monospace'>%s</pre>" % "\n".join(cells)
    )
    width, height = COLS * 9 + 16, int(ROWS * 17.5) + 16
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=%d,%d" % (width, height), "--screenshot=" + out, "file://" + page],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    print(out)


if __name__ == "__main__":
    main()
