"""``python -m workbench …``: the command line, also where ``workbench`` is not on the PATH (a
Jupyter kernel started from ``.venv/bin/jupyter`` lacks ``.venv/bin``: ``!python -m workbench``)."""

from workbench.cli import main

if __name__ == "__main__":
    main()
