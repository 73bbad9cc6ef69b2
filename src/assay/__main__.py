"""``python -m assay``: the same as the ``assay`` command."""

from assay._cli.main import main

if __name__ == "__main__":
    main()
