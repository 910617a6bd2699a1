"""`python -m app.cli`: the `citestream` command."""

from app.cli import main

main()
