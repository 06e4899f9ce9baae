-- Headless Neovim as the language client (tests/lsp/test_lsp_neovim.py): start `graphspec lsp`
-- for the YAML buffer given on the command line, wait for its diagnostics, print one line each
-- (FILE:LINE:COL: error[CODE]: MESSAGE, as `graphspec validate` prints them), and quit.
-- Written against Neovim 0.7 (Debian's), whose API is older than vim.lsp.start.
local python = os.getenv("GRAPHSPEC_PYTHON") or "python3"
local out = {}

local function report(buf)
  local file = vim.api.nvim_buf_get_name(buf)
  local diags = vim.diagnostic.get(buf)
  table.sort(diags, function(a, b) return a.lnum < b.lnum or (a.lnum == b.lnum and a.col < b.col) end)
  for _, d in ipairs(diags) do
    local lsp = (d.user_data or {}).lsp or {}
    local code = d.code or lsp.code or "?"
    local message = d.message:gsub("\nhint: ", "; hint: ")
    table.insert(out, string.format("%s:%d:%d: error[%s]: %s", file, d.lnum + 1, d.col + 1, code, message))
  end
end

local client_id = nil
vim.api.nvim_create_autocmd("FileType", {
  pattern = "yaml",
  callback = function(args)
    if vim.b[args.buf].graphspec_attached then return end
    vim.b[args.buf].graphspec_attached = true
    client_id = client_id or vim.lsp.start_client({
      name = "graphspec",
      cmd = { python, "-m", "graphspec", "lsp" },
      root_dir = vim.fn.getcwd(),
    })
    vim.lsp.buf_attach_client(args.buf, client_id)
  end,
})

-- GRAPHSPEC_SPECS: the files to open, separated by newlines; one server serves them all.
vim.cmd("filetype on")
for spec in string.gmatch(os.getenv("GRAPHSPEC_SPECS") or "", "[^\n]+") do
  vim.cmd("edit " .. vim.fn.fnameescape(spec))
  vim.cmd("doautocmd FileType yaml")
  local buf = vim.api.nvim_get_current_buf()
  if vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 10) then
    report(buf)
  else
    table.insert(out, "TIMEOUT " .. spec)
  end
end
io.stdout:write(table.concat(out, "\n") .. "\n")
vim.cmd("qa!")
