-- graphspec lsp in Neovim: shapes as inlay hints, the compiler's errors as diagnostics.
-- Put this file on your runtimepath (e.g. ~/.config/nvim/plugin/graphspec.lua), or paste it
-- into init.lua. `graphspec` must be on PATH (pip install 'graphspec[lsp]').
-- The server answers only for YAML files with a top-level `model:` key (graphspec specs).

if vim.lsp.config then -- Neovim 0.11+
  vim.lsp.config("graphspec", {
    cmd = { "graphspec", "lsp" },
    filetypes = { "yaml" },
    root_markers = { ".git" },
  })
  vim.lsp.enable("graphspec")
else -- Neovim 0.8-0.10 (0.7 and older: see tests/lsp/nvim_diagnostics.lua)
  vim.api.nvim_create_autocmd("FileType", {
    pattern = "yaml",
    callback = function(args)
      vim.lsp.start({
        name = "graphspec",
        cmd = { "graphspec", "lsp" },
        root_dir = vim.fs.dirname(vim.fs.find({ ".git" }, { upward = true, path = vim.api.nvim_buf_get_name(args.buf) })[1] or "."),
      })
    end,
  })
end

-- Shapes after each layer line (`→ (N, 6, 28, 28)`): inlay hints, Neovim 0.10+.
if vim.lsp.inlay_hint then
  vim.api.nvim_create_autocmd("LspAttach", {
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == "graphspec" then
        vim.lsp.inlay_hint.enable(true, { bufnr = args.buf })
      end
    end,
  })
end
