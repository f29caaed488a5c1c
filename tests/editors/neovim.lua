-- Neovim's own LSP client (Debian's neovim, 0.7 and later) against
-- `assay lsp`, headless: run by tests/editors.rs, which reads what this
-- writes to $ASSAY_OUT (JSON) and asserts on it.
local assay = os.getenv("ASSAY_BIN")
local file = os.getenv("ASSAY_FILE")
local out = os.getenv("ASSAY_OUT")
local results = { errors = {} }

local function finish()
  local f = io.open(out, "w")
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd("qall!")
end

-- Whatever goes wrong is written out rather than left hanging.
local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local client = vim.lsp.start_client({
    name = "assay",
    cmd = { assay, "lsp" },
    root_dir = vim.fn.fnamemodify(file, ":h"),
  })
  vim.lsp.buf_attach_client(buf, client)

  -- The mistake in the file is published as a diagnostic.
  vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
  results.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(results.diagnostics, { code = d.code, message = d.message, line = d.lnum })
  end

  local uri = vim.uri_from_bufnr(buf)
  local function find(text)
    for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
      local col = string.find(line, text, 1, true)
      if col then return i - 1, col - 1 end
    end
    error("not in the buffer: " .. text)
  end
  local function request(method, params)
    local responses = vim.lsp.buf_request_sync(buf, method, params, 30000) or {}
    for _, r in pairs(responses) do
      if r.error then table.insert(results.errors, method .. ": " .. vim.inspect(r.error)) end
      if r.result then return r.result end
    end
    return nil
  end

  -- Hover over a telemetry field shows its documentation.
  local line, col = find("client_alive_interval")
  local hover = request("textDocument/hover", { textDocument = { uri = uri }, position = { line = line, character = col + 2 } })
  results.hover = hover and hover.contents and hover.contents.value or vim.NIL

  -- Completion after `host.`, typed into the buffer.
  line, col = find("applies when")
  vim.api.nvim_buf_set_lines(buf, line, line, false, { "  let typed = host." })
  local completion = request("textDocument/completion", {
    textDocument = { uri = uri },
    position = { line = line, character = #"  let typed = host." },
  })
  local items = completion and (completion.items or completion) or {}
  results.completion = {}
  for _, item in ipairs(items) do table.insert(results.completion, item.label) end
  vim.api.nvim_buf_set_lines(buf, line, line + 1, false, {})

  -- Formatting changes the buffer.
  local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  if vim.lsp.buf.format then
    vim.lsp.buf.format({ timeout_ms = 30000 })
  else
    vim.lsp.buf.formatting_sync(nil, 30000)
  end
  local after = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  results.formatted = after
  results.changed = before ~= after
end)
if not ok then table.insert(results.errors, tostring(err)) end
finish()
