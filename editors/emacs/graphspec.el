;;; graphspec.el --- graphspec lsp through eglot  -*- lexical-binding: t; -*-
;; Load it from init.el: (load "/path/to/editors/emacs/graphspec.el")
;; `graphspec' must be on PATH (pip install 'graphspec[lsp]'). The server answers only for
;; YAML files with a top-level `model:' key; then M-x eglot in a spec (or keep the hook below).
;; Inlay hints (shapes after each layer) show with eglot-inlay-hints-mode (Emacs 29+).

(require 'eglot)

(add-to-list 'eglot-server-programs
             '((yaml-mode yaml-ts-mode) . ("graphspec" "lsp")))

(defun graphspec-maybe-eglot ()
  "Start eglot in a YAML buffer that holds a graphspec spec (a top-level `model:')."
  (when (save-excursion
          (goto-char (point-min))
          (re-search-forward "^model:" nil t))
    (eglot-ensure)))

(add-hook 'yaml-mode-hook #'graphspec-maybe-eglot)
(add-hook 'yaml-ts-mode-hook #'graphspec-maybe-eglot)

(provide 'graphspec)
;;; graphspec.el ends here
