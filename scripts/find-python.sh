#!/usr/bin/env bash
# Prints the path of a Python that matches the Lambda runtime (3.13, else 3.12), or explains and fails.
# Looks on PATH first, then in pyenv's versions folder, since pyenv shims hide uninstalled minors.
set -euo pipefail
for minor in 3.13 3.12; do
  if command -v "python$minor" >/dev/null 2>&1 && "python$minor" -c 'import venv' 2>/dev/null; then
    command -v "python$minor"; exit 0
  fi
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "$root"/versions/"$minor".*/bin/python"$minor"; do
    if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
  done
done
echo "error: Python 3.13 or 3.12 is needed (the Lambda runtime in template.yaml is python3.13)." >&2
echo "       Install one (e.g. 'pyenv install 3.13', or your OS package python3.13) and retry," >&2
echo "       or point at it: make PYTHON=/path/to/python3.13 ..." >&2
exit 1
